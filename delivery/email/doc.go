// Package email is Herald's built-in email deliverer: it sends a run's
// result over SMTP as a multipart/alternative message, a plain-text part and
// an HTML part, to the addresses in Target.To.
//
// Import it in the program that sets Herald up, and register the Deliverer
// it builds with the scheduler's delivery.Router under a channel name such as
// "email":
//
//	d, err := email.New(email.Config{
//		Host:     "smtp.example.com",
//		Username: "herald",
//		Password: os.Getenv("SMTP_PASSWORD"),
//		From:     "Herald <herald@example.com>",
//	})
//	if err != nil {
//		return err
//	}
//	router.MustRegister("email", d)
//
// What a Deliverer promises:
//   - the connection is encrypted: STARTTLS is required by default (a server
//     that does not offer it is refused, never used in clear text), implicit
//     TLS is available, and plain text only on explicit opt-in;
//   - one delivery, from dialling to the server's last reply, is bounded by
//     Config.Timeout, and the caller's context ends it at once, with an error
//     that matches ctx.Err();
//   - a 5xx reply (a recipient refused, authentication failed, the message
//     rejected) and a bad address are delivery.Permanent; a 4xx reply and
//     network errors are transient; the error's text holds the SMTP command,
//     the code and the server's text, never the password;
//   - the Message-ID is derived from Message.IdempotencyKey, so a retried
//     delivery carries the same Message-ID and receivers can deduplicate.
package email
