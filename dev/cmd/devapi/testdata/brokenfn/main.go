// Command brokenfn does not compile, on purpose: the local API's tests check
// that a function that does not build stops make dev with the compiler's
// message.
package main

func main() {
	var count int = "not a number"
	_ = count
}
