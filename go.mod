module github.com/mlasimd/mlasimd

go 1.26.0

require (
	github.com/stretchr/testify v1.11.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
