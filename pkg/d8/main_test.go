package d8

import (
	"os"
	"testing"
)

// envRunAsD8 makes the test binary run d8 itself: `d8 v ssh --local-ssh` puts its own binary
// in ssh's ProxyCommand, and under `go test` that binary is this one.
const envRunAsD8 = "D8_TEST_RUN_AS_D8"

func TestMain(m *testing.M) {
	if os.Getenv(envRunAsD8) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}
