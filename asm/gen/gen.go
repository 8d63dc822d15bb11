package main

//go:generate go run . -out ../../kernels_amd64.s -stubs ../../stubs_amd64.go -pkg mlasimd
