package main

import (
	"strings"
)

// Script renders runcmd or bootcmd as a shell script: a string is a line of shell, a list
// is one command whose words are quoted, as cloud-init's shellify does.
func Script(cmds []Command) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, c := range cmds {
		if c.Argv == nil {
			b.WriteString(c.Shell)
		} else {
			for i, w := range c.Argv {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(shellQuote(w))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// shellQuote quotes a word for sh unless it is made only of characters sh leaves alone.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
