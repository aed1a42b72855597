package push

// Outcome is the final result of sending one message to one subscription,
// after any retries: what the sender reports, the delivery log records and
// the API answers.
type Outcome string

// The outcomes of a send.
const (
	// Sent: the push service accepted the message (2xx).
	Sent Outcome = "sent"
	// Gone: the subscription no longer exists (404 or 410) and was pruned.
	Gone Outcome = "gone"
	// Failed: retries ran out on 429, 5xx or network errors, or the context
	// ended first.
	Failed Outcome = "failed"
	// Rejected: the message or subscription is invalid, or the push service
	// refused the request (413, other 4xx); retrying would not help.
	Rejected Outcome = "rejected"
	// Unauthorized: the push service refused the VAPID credentials (401 or
	// 403), a fault in the server's key pair or subject, not the subscription;
	// or the sender did not send, knowing it would refuse them (Apple's push
	// service and a subject that is no real contact).
	Unauthorized Outcome = "unauthorized"
)
