module github.com/mlasimd/mlasimd/examples/decode

go 1.26.0

require github.com/mlasimd/mlasimd v0.0.0

require golang.org/x/sys v0.50.0 // indirect

replace github.com/mlasimd/mlasimd => ../..
