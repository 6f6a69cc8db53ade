// Package apiclient is a Go client of Keyhold's management API, generated
// by oapi-codegen v2.8.2 from the OpenAPI 3.0 document (/v1/openapi-3.0.json)
// into apiclient.gen.go. It proves that the document is complete enough to
// generate a working client from; sdk/go is the client to hand to people.
//
// Do not edit apiclient.gen.go: regenerate it with `make api-client` after
// changing an operation. `make test` fails while it is out of date
// (TestAPIClientCurrent in internal/server).
package apiclient
