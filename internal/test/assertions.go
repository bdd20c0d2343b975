// Package test holds small helpers shared by the project's tests.
package test

import (
	"reflect"
	"testing"
	"time"
)

// Equal fails the test now if got and want differ (reflect.DeepEqual).
func Equal(t testing.TB, want, got interface{}, context ...interface{}) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%v: want %#v, got %#v", context, want, got)
	}
}

// Nil fails the test now if err is not nil.
func Nil(t testing.TB, err error, context ...interface{}) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v: unexpected error: %v", context, err)
	}
}

// Eventually polls cond every 10ms until it returns true, failing the test
// after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
