//go:build !tensordebug

package tensor

// poison is off outside the tensordebug build (see debug_on.go).
const poison = false
