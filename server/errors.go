package server

import (
	"fmt"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

func unknownField(model, name string, allowed []string) error {
	name = fieldName(name)
	msg := fmt.Sprintf("unknown field %q for task_type %s; allowed: %s", name, model, strings.Join(append([]string{"task_type"}, allowed...), ", "))
	return &tasktype.FieldError{Field: name, Rule: "unknown_field", Message: msg}
}
