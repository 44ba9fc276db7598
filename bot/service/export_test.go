package service

import "time"

// SetBoardBusyRetry shortens the wait for a busy board in tests.
func SetBoardBusyRetry(d time.Duration) (restore func()) {
	old := boardBusyRetry
	boardBusyRetry = d
	return func() { boardBusyRetry = old }
}
