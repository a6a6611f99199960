// Command olmrs-convert-harness runs upstream rukpak's registry+v1 to plain+v0 conversion on
// one bundle directory, for olm-rs's differential test (crates/registry-convert).
//
// scripts/build-go-tools.sh copies this file into a writable copy of the rukpak module tree, so
// that it may import the module's internal packages. Output: the converted objects as one JSON
// array on stdout, in the order upstream writes them. A refusal: the error on stderr, exit 1.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/operator-framework/rukpak/internal/convert"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: olmrs-convert-harness BUNDLE_DIR")
		os.Exit(2)
	}
	plain, err := convert.RegistryV1ToPlain(os.DirFS(os.Args[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	objects, err := readObjects(plain)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(3)
	}
	out, err := json.Marshal(objects)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(3)
	}
	os.Stdout.Write(append(out, '\n'))
}

// readObjects decodes the single manifest file upstream stores for a converted bundle.
func readObjects(plain fs.FS) ([]map[string]interface{}, error) {
	data, err := fs.ReadFile(plain, "manifests/manifest.yaml")
	if err != nil {
		return nil, err
	}
	objects := []map[string]interface{}{}
	decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var object map[string]interface{}
		if err := decoder.Decode(&object); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, err
		}
		if object != nil {
			objects = append(objects, object)
		}
	}
}
