package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Snapshot returns the spec file at path as one self-contained YAML
// document that Parse reads back into the same model: its lifecycle file,
// if it names one, inlined in place of the lifecycle key, and every comment
// dropped. taskgen keeps a snapshot beside each migration it generates, to
// compare the next version of the spec with.
func Snapshot(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return SnapshotOf(path, data, os.ReadFile)
}

// SnapshotOf is Snapshot of a spec's data, named file; read loads its
// lifecycle file.
func SnapshotOf(path string, data []byte, read ReadFunc) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: a spec is a mapping", path)
	}
	root := doc.Content[0]
	var out []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		if key.Value != "lifecycle" {
			out = append(out, key, val)
			continue
		}
		lcPath := filepath.Join(filepath.Dir(path), val.Value)
		lcData, err := read(lcPath)
		if err != nil {
			return nil, err
		}
		var lc yaml.Node
		if err := yaml.Unmarshal(lcData, &lc); err != nil {
			return nil, fmt.Errorf("%s: %w", lcPath, err)
		}
		if len(lc.Content) == 0 || lc.Content[0].Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: a lifecycle file is a mapping", lcPath)
		}
		lroot := lc.Content[0]
		for j := 0; j+1 < len(lroot.Content); j += 2 {
			if lroot.Content[j].Value == "doc" && hasKey(root, "doc") {
				continue // the model's own doc wins, as the loader has it
			}
			out = append(out, lroot.Content[j], lroot.Content[j+1])
		}
	}
	root.Content = out
	stripComments(root)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func stripComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}
