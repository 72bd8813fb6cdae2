package main

import "github.com/pointpeft/pointpeft/tensor"

func blasName() string { return tensor.BLASName() }
