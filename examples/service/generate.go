package main

// taskgen writes the packages of every spec in tasks/ into gen/ (gen/report,
// and gen/catalog: the listing, HTTP bindings and OpenAPI document over
// them) with their SQL and sqlc.yaml; sqlc compiles the queries. In a
// module of your own these are `go tool taskgen …` and `go tool sqlc …`
// (see the README's quick start); inside taskmodel's own module both run
// from its tools module.
//
//go:generate go -C ../../tools run ./taskgen -spec ../examples/service/tasks -out ../examples/service/gen -sqlc ../examples/service/sqlc.yaml
//go:generate go -C ../../tools tool sqlc generate -f ../examples/service/sqlc.yaml
//go:generate go -C ../../tools tool sqlc vet -f ../examples/service/sqlc.yaml
