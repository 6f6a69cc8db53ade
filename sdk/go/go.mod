module github.com/keyhold/keyhold/sdk/go

go 1.24
