// Command functions reads the functions template.yaml declares, for the
// Makefile, and adds a new route to the project:
//
//	functions list                     LogicalId and Go package, one function a line
//	functions package LogicalId        the Go package of one function
//	functions new NAME 'METHOD /path'  functions/NAME/main.go and main_test.go, and its resource in template.yaml
//
// It runs from the project's root (make runs it there). Errors are one line,
// with status 1; usage mistakes exit 2.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"clerk-lambda/internal/functions"
)

const usage = "usage: functions list | functions package LogicalId | functions new NAME 'METHOD /path'"

func main() {
	os.Exit(run(os.Args[1:], ".", os.Stdout, os.Stderr))
}

// errUsage marks a mistake in the command line.
var errUsage = errors.New(usage)

// run runs one command in the project at root.
func run(args []string, root string, stdout, stderr io.Writer) int {
	err := command(args, root, stdout)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "functions:", err)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "functions:", err)
		return 1
	}
	return 0
}

func command(args []string, root string, stdout io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "list":
		if len(args) != 1 {
			return errUsage
		}
		fns, err := load(root)
		if err != nil {
			return err
		}
		for _, f := range fns {
			fmt.Fprintln(stdout, f.ID, f.Package)
		}
		return nil
	case "package":
		if len(args) != 2 {
			return errUsage
		}
		fns, err := load(root)
		if err != nil {
			return err
		}
		f, ok := functions.Find(fns, args[1])
		if !ok {
			return fmt.Errorf("%s: no such function in %s (make help lists the targets; functions list lists the functions)", args[1], functions.File)
		}
		fmt.Fprintln(stdout, f.Package)
		return nil
	case "new":
		if len(args) != 3 {
			return errUsage
		}
		r, err := parseRoute(args[1], args[2])
		if err != nil {
			return fmt.Errorf("%w (%s)", err, usage)
		}
		if err := scaffold(root, r); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added %s: functions/%s (main.go, main_test.go) and %s in %s.\n", r.key(), r.name, r.id(), functions.File)
		return nil
	}
	return errUsage
}

func load(root string) ([]functions.Function, error) {
	return functions.Load(root + "/" + functions.File)
}
