package keyhold_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

func TestFieldErrors(t *testing.T) {
	var fe keyhold.FieldErrors
	if fe.Err() != nil {
		t.Fatal("no fields: an error")
	}
	if !fe.AddErr("name", nil) {
		t.Error("AddErr(nil) says it failed")
	}
	if fe.AddErr("meta", keyhold.Errorf(keyhold.EINVALID, "Bad JSON.")) {
		t.Error("AddErr(err) says it passed")
	}
	fe.Add("name", "Give it a name.")
	fe.Add("name", "A second message for name is dropped.")
	fe.AddErr("other", errors.New("db password leaked")) // not a *keyhold.Error: the generic message
	fe.InOrder("name", "meta")
	err := fmt.Errorf("wrapped: %w", fe.Err())
	if keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("code = %q", keyhold.ErrorCode(err))
	}
	want := "Give it a name. Bad JSON. Something went wrong on our side. Please try again."
	if got := keyhold.ErrorMessage(err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	fields := keyhold.Fields(err)
	if len(fields) != 3 || fields["name"] != "Give it a name." || fields["meta"] != "Bad JSON." {
		t.Errorf("fields = %v", fields)
	}
	if keyhold.Fields(keyhold.Errorf(keyhold.EINVALID, "whole form")) != nil || keyhold.Fields(nil) != nil || keyhold.Fields(errors.New("x")) != nil {
		t.Error("Fields of an error without fields is not nil")
	}
}
