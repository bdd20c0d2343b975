// Package lg provides the leveled logging shared by the daemon and its
// command: a level type usable as a flag, and a formatter that prints the
// level word after the configured prefix.
package lg

import (
	"fmt"
	"log"
	"os"
	"strings"
)

// LogLevel orders messages by severity; a message below the configured level
// is dropped.
type LogLevel int

// The levels, lowest first.
const (
	DEBUG LogLevel = iota + 1
	INFO
	WARN
	ERROR
	FATAL
)

// Logger is the sink log lines are written to; *log.Logger satisfies it.
type Logger interface {
	Output(calldepth int, s string) error
}

// LogFunc is a leveled log function, such as the daemon's logf; packages
// that log through their user take one.
type LogFunc func(level LogLevel, f string, args ...interface{})

// NilLogger discards everything.
type NilLogger struct{}

// Output implements Logger by dropping s.
func (NilLogger) Output(int, string) error { return nil }

// String returns the level word printed in log lines.
func (l LogLevel) String() string {
	switch l {
	case DEBUG:
		return "DEBUG"
	case INFO:
		return "INFO"
	case WARN:
		return "WARNING"
	case ERROR:
		return "ERROR"
	case FATAL:
		return "FATAL"
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

// Get implements flag.Getter so go-options can read the parsed value.
func (l *LogLevel) Get() interface{} { return *l }

// Set implements flag.Value, accepting a level name in any case.
func (l *LogLevel) Set(s string) error {
	level, err := ParseLogLevel(s)
	if err != nil {
		return err
	}
	*l = level
	return nil
}

// ParseLogLevel maps "debug", "info", "warn", "error" or "fatal" (any case)
// to its level.
func ParseLogLevel(s string) (LogLevel, error) {
	switch strings.ToLower(s) {
	case "debug":
		return DEBUG, nil
	case "info":
		return INFO, nil
	case "warn":
		return WARN, nil
	case "error":
		return ERROR, nil
	case "fatal":
		return FATAL, nil
	}
	return 0, fmt.Errorf("invalid log level %q (want debug, info, warn, error or fatal)", s)
}

// Logf writes one line at msgLevel if it is at or above cfgLevel.
func Logf(logger Logger, cfgLevel LogLevel, msgLevel LogLevel, f string, args ...interface{}) {
	if cfgLevel > msgLevel {
		return
	}
	logger.Output(3, fmt.Sprintf(msgLevel.String()+": "+f, args...))
}

// LogFatal prints one FATAL line to stderr with the given prefix and exits
// with status 1. It is for start-up errors in main only.
func LogFatal(prefix string, f string, args ...interface{}) {
	logger := log.New(os.Stderr, prefix, log.Ldate|log.Ltime|log.Lmicroseconds)
	Logf(logger, FATAL, FATAL, f, args...)
	os.Exit(1)
}
