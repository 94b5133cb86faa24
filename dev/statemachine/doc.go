// Package statemachine runs the template's Step Functions state machine on
// this machine, so that the export runs locally as in AWS, slice after
// slice, with no AWS account.
//
// Load reads the one AWS::Serverless::StateMachine of template.yaml, its
// inline Definition with DefinitionSubstitutions resolved to local names (a
// !GetAtt ExportUsersFunction.Arn is the function's logical id), and Run
// interprets the subset of the Amazon States Language that the definition
// uses: Task states invoking a function through arn:aws:states:::lambda:invoke
// (Parameters with FunctionName and a Payload template, ResultPath,
// OutputPath, TimeoutSeconds, Retry and Catch), Choice (BooleanEquals and
// IsPresent on a Variable, Default), Pass (Parameters, Result), Succeed and
// Fail, with paths of the forms $ and $.a.b. Anything else is refused when
// the definition is read, naming it, rather than run in part.
//
// Errors have Step Functions' names: a function's error is its errorType;
// its timeout is Sandbox.Timedout, its crash Lambda.Unknown, a Task's own
// TimeoutSeconds States.Timeout. Functions run through an Invoker (make
// dev's emulator runner, or a test's fake).
package statemachine
