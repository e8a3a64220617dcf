package apiserver

import (
	"k8s.io/apimachinery/pkg/util/sets"
	genericfilters "k8s.io/apiserver/pkg/server/filters"

	"github.com/virtplane/virtplane/pkg/subresources/vmstream"
)

// longRunningSubresources stream for as long as the client sends or reads: the generic
// server's 60 s timeout, in-flight limit and request deadline must not apply to them. Uploads
// are plain requests; console, vnc and portforward are websockets (hijacked connections),
// which the timeout filter would otherwise answer 504 under.
var longRunningSubresources = sets.NewString(
	"upload",
	string(vmstream.Console),
	string(vmstream.VNC),
	string(vmstream.PortForward),
)

// longRunning is the server's LongRunningFunc: watches and the streaming subresources.
var longRunning = genericfilters.BasicLongRunningRequestCheck(sets.NewString("watch"), longRunningSubresources)
