// k8s-strict: the test tool that reads Kubernetes manifests the way the API server's strict field
// validation does, using the real API types (k8s.io/api): every YAML document is decoded into the
// type its apiVersion/kind names, and an unknown or duplicated field or a wrong type is an error.
// On top, the checks the API server's validation makes that need no cluster and that an example
// gets wrong most easily: the CronJob schedule and time zone parse, a Job template restarts Never
// or OnFailure, and every volumeMount names a volume of its pod. Prints each object as one JSON
// line (for the test to check names and references); exit 1 with the reasons otherwise.
//
// usage: k8s-strict FILE...
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	_ "time/tzdata" // timeZone is checked the same on a machine without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var Version = "dev"

func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "batch/v1/CronJob":
		return &batchv1.CronJob{}, nil
	case "batch/v1/Job":
		return &batchv1.Job{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q is not a type this tool knows", apiVersion, kind)
}

func checkPod(where string, spec *corev1.PodSpec) error {
	if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return fmt.Errorf("%s: restartPolicy must be Never or OnFailure in a Job template (got %q)", where, spec.RestartPolicy)
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Image == "" {
			return fmt.Errorf("%s: container %q has no image", where, c.Name)
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				return fmt.Errorf("%s: container %q mounts volume %q, which the pod does not define", where, c.Name, m.Name)
			}
		}
	}
	return nil
}

func check(obj any, where string) error {
	switch o := obj.(type) {
	case *batchv1.CronJob:
		if _, err := cron.ParseStandard(o.Spec.Schedule); err != nil {
			return fmt.Errorf("%s: schedule %q: %v", where, o.Spec.Schedule, err)
		}
		if o.Spec.TimeZone != nil {
			if _, err := time.LoadLocation(*o.Spec.TimeZone); err != nil {
				return fmt.Errorf("%s: timeZone %q: %v", where, *o.Spec.TimeZone, err)
			}
		}
		return checkPod(where, &o.Spec.JobTemplate.Spec.Template.Spec)
	case *batchv1.Job:
		return checkPod(where, &o.Spec.Template.Spec)
	}
	return nil
}

func run(path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %v", path, n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("%s: document %d: %v", path, n, err)
		}
		if meta.APIVersion == "" && meta.Kind == "" {
			continue // only comments
		}
		where := fmt.Sprintf("%s: document %d (%s)", path, n, meta.Kind)
		obj, err := newObject(meta.APIVersion, meta.Kind)
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if err := check(obj, where); err != nil {
			return err
		}
		line, _ := json.Marshal(obj)
		fmt.Fprintln(out, string(line))
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println(Version)
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-strict FILE...")
		os.Exit(2)
	}
	for _, p := range os.Args[1:] {
		if err := run(p, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
