module github.com/taskmodel/taskmodel/tools

go 1.26.8

require go.yaml.in/yaml/v3 v3.0.6

require github.com/dave/jennifer v1.7.1 // indirect
