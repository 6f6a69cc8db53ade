package main

import (
	"testing"

	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/mail"
)

// TestSMTPSecurityNamesAgree holds config's and mail's spellings of an SMTP
// server's security together: newQueue converts a config.SMTP into a
// mail.Server field for field, so a renamed constant would silently turn
// TLS off.
func TestSMTPSecurityNamesAgree(t *testing.T) {
	for _, tt := range []struct{ config, mail string }{
		{config.SMTPStartTLS, mail.StartTLS},
		{config.SMTPTLS, mail.TLS},
		{config.SMTPPlain, mail.Plain},
	} {
		if tt.config != tt.mail {
			t.Errorf("config spells a security %q, mail %q", tt.config, tt.mail)
		}
	}
}
