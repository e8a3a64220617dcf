// Package controllertest holds what the controllers' unit tests share: fake API clients for
// our kinds, core objects and KubeVirt (served through the real kubevirt client), caches
// filled from them, and the Events a fake recorder collected. Only tests import it.
package controllertest
