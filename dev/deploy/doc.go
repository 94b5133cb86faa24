// Package deploy holds the checks of the deployment files: template.yaml,
// samconfig.toml, env.example.json and the Makefile's build and deploy
// targets. Its tests read those files (and build the functions the way
// `sam build` does); nothing in it deploys or calls AWS.
package deploy
