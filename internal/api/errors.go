package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

func init() {
	// Every problem says its type (RFC 9457 §4.2: about:blank, the status
	// says it all), so that clients need not default it.
	base := huma.NewError
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		se := base(status, msg, errs...)
		if m, ok := se.(*huma.ErrorModel); ok && m.Type == "" {
			m.Type = "about:blank"
		}
		return se
	}
}

// statusOf is the API's status for a service error code: as the portal's,
// except that invalid input is 422 (what huma answers for a body that
// breaks the schema, so that one status means "fix your input") and a plan
// limit is 409 (the account's state refuses it; 403 is a permission).
func statusOf(code string) int {
	switch code {
	case keyhold.EINVALID:
		return http.StatusUnprocessableEntity
	case keyhold.ENOTFOUND:
		return http.StatusNotFound
	case keyhold.ECONFLICT, keyhold.ELIMIT:
		return http.StatusConflict
	case keyhold.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case keyhold.EFORBIDDEN:
		return http.StatusForbidden
	case keyhold.ETOOMANY:
		return http.StatusTooManyRequests
	case keyhold.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Fields maps a service's field names to the API's where they differ
// (the portal's form says "expires", the API "expires_at"). Operations
// pass theirs to problemIn.
type Fields map[string]string

// problem turns an operation's error into its answer (see problemIn).
func (a *API) problem(ctx context.Context, err error) error {
	return a.problemIn(ctx, err, nil)
}

// problemIn turns a service error into an RFC 9457 answer: the service's
// message as detail, its field errors as errors at body.<field> (renamed
// by fields), and anything unexpected as a 500 that says nothing of its
// cause, which is logged once here with key-shaped text redacted. Errors
// that already are problems pass through.
func (a *API) problemIn(ctx context.Context, err error, fields Fields) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	status := statusOf(keyhold.ErrorCode(err))
	if status >= 500 {
		a.log.ErrorContext(ctx, "api call failed", "operation", operationID(ctx), "status", status, "err", keys.RedactText(err.Error()))
		if status == http.StatusServiceUnavailable {
			return errf(status, "Keyhold cannot answer right now; retry in a few seconds.")
		}
		return errf(status, "Something went wrong on our side; it has been logged. Retry, or tell the operator if it keeps happening.")
	}
	var details []error
	var ke *keyhold.Error
	if errors.As(err, &ke) {
		for _, f := range ke.Fields {
			name := f.Field
			if n, ok := fields[name]; ok {
				name = n
			}
			details = append(details, &huma.ErrorDetail{Location: "body." + name, Message: f.Message})
		}
	}
	return huma.NewError(status, keyhold.ErrorMessage(err), details...)
}

// opKey is the context key of the running operation's id, for logs.
type opKey struct{}

func operationID(ctx context.Context) string {
	id, _ := ctx.Value(opKey{}).(string)
	return id
}
