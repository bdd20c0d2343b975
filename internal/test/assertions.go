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

// pollInterval is how often Eventually checks its condition.
const pollInterval = 10 * time.Millisecond

// Eventually polls cond every 10ms until it holds, failing the test after
// timeout. cond either reports whether it holds (func() bool) or returns
// nil when it holds and otherwise says what is still wrong (func() error);
// the failure message then carries the last such error.
func Eventually[Cond func() bool | func() error](t testing.TB, timeout time.Duration, cond Cond, what string) {
	t.Helper()
	check := func() error {
		switch c := any(cond).(type) {
		case func() bool:
			if !c() {
				return errNotYet
			}
			return nil
		case func() error:
			return c()
		}
		panic("unreachable: Cond is one of two function types")
	}
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if err == errNotYet {
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			}
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(pollInterval)
	}
}

// errNotYet stands for a func() bool condition that does not hold yet.
var errNotYet = notYet{}

type notYet struct{}

func (notYet) Error() string { return "condition not met" }
