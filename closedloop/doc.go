// Package closedloop captures questions Zhiku could not answer well (unanswered,
// low-confidence, thumbs-down), groups look-alikes and queues them for knowledge operators,
// whose answers go live at once. It depends only on internal/kb and its own interfaces.
package closedloop
