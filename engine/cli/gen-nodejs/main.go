// Command pulumi-gen-nodejs generates a Node.js (TypeScript) SDK for a Pulumi package schema with Pulumi's
// own code generator (github.com/pulumi/pulumi/pkg/v3/codegen/nodejs), as the Go Node.js language host's
// GeneratePackage does. Test equipment, built by `make engine`: the Node.js language host's Go module is
// not served by the module proxy here, so tests/engine/nodejs_language_host.py (a stand-in) calls this.
//
//	pulumi-gen-nodejs -schema schema.json -out DIR -loader ADDR [-extra DIR] [-local]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON)")
	out := flag.String("out", "", "the directory to write the SDK into")
	loaderTarget := flag.String("loader", "", "the engine's schema loader service (gRPC address)")
	extra := flag.String("extra", "", "a directory of extra files to add to the SDK")
	local := flag.Bool("local", false, "a local SDK (compiled by its postinstall script), as `pulumi package add` makes")
	flag.Parse()
	if err := generate(*schemaPath, *out, *loaderTarget, *extra, *local); err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-gen-nodejs:", err)
		os.Exit(1)
	}
}

func generate(schemaPath, out, loaderTarget, extra string, local bool) error {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("parse %s: %w", schemaPath, err)
	}
	if loaderTarget == "" {
		return fmt.Errorf("-loader is required: the engine's schema loader, which GeneratePackage is given")
	}
	loader, err := schema.NewLoaderClient(loaderTarget)
	if err != nil {
		return err
	}
	defer loader.Close()
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{})
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	extraFiles := map[string][]byte{}
	if extra != "" {
		err := filepath.WalkDir(extra, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(extra, path)
			if err != nil {
				return err
			}
			extraFiles[filepath.ToSlash(rel)], err = os.ReadFile(path)
			return err
		})
		if err != nil {
			return err
		}
	}
	files, err := nodejs.GeneratePackage("pulumi-language-nodejs", pkg, extraFiles, nil, local, loader)
	if err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
