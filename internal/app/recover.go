package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/seal"
)

// RecoverUser gives the account username a one-time enrolment code on the
// command line's authority (`trustward user recover`, for a hospital with
// one administrator, or an administrator locked out): audited with the
// actor "cli" and the reason, told to the account's owner, and returned
// with its link, to be shown once.
func (a *App) RecoverUser(ctx context.Context, username, reason string) (identity.Enrolment, string, error) {
	u, err := a.Identity.UserByUsername(ctx, username)
	if err != nil {
		return identity.Enrolment{}, "", err
	}
	en, err := a.Recovery.IssueEnrolment(ctx, identity.CommandLine(), u.ID, reason, identity.Client{UserAgent: "trustward user recover"})
	if err != nil {
		return identity.Enrolment{}, "", err
	}
	subject := "user/" + u.ID
	if u.PatientID != "" {
		subject = seal.PatientSubject(u.PatientID)
	}
	if _, err := a.Notices.ToUser(ctx, u.ID, subject, notify.KindSecurity, "An administrator started a recovery of your sign-in",
		fmt.Sprintf("An administrator gave you a one-time enrolment code on %s, valid until %s, to set a new password or passkey; the authenticator app, recovery codes and passkeys of your account are removed when it is used. "+
			"If you did not ask for this, tell the security team at once.",
			a.Clock().UTC().Format("2 January 2006 at 15:04 UTC"), en.Expires.UTC().Format("2 January 2006 at 15:04 UTC"))); err != nil {
		a.Log.Error("notifying an account of its recovery", "err", err)
	}
	return en, strings.TrimSuffix(a.PublicURL, "/") + "/recover/" + en.Code, nil
}
