package postgres

// SetBeforeReconnect makes n call f before each reconnection attempt. Call
// it before Listen.
func SetBeforeReconnect(n *Notifier, f func()) { n.beforeReconnect = f }
