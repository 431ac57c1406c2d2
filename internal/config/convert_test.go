package config

import (
	"strings"
	"testing"
)

func TestConvert(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
		check func(t *testing.T, f *File)
	}{
		"merge key": {
			src: yml(`
				kubernetes:
				  namespace: default
				  resources:
				    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: worker}}
				pools:
				  - name: a
				    type: kubernetes
				    jobTemplate: &heavy
				      image: a
				      serviceAccountName: worker
				  - name: b
				    type: kubernetes
				    jobTemplate:
				      <<: *heavy
				      image: b
			`),
			check: func(t *testing.T, f *File) {
				jt := f.Pools[1].JobTemplate
				if jt.Image != "b" || jt.ServiceAccountName != "worker" {
					t.Errorf("merged jobTemplate = %+v", jt)
				}
			},
		},
		"key before a merge key wins": {
			src: validPool + "    jobTemplate:\n      image: mine\n      <<: [{image: first}, {image: second, imagePullPolicy: Always}]\n",
			check: func(t *testing.T, f *File) {
				jt := f.Pools[0].JobTemplate
				if jt.Image != "mine" || jt.ImagePullPolicy != "Always" {
					t.Errorf("merged jobTemplate = %+v", jt)
				}
			},
		},
		"earlier merge source wins": {
			src: validPool + "    jobTemplate:\n      <<: [{image: first}, {image: second, imagePullPolicy: Always}]\n",
			check: func(t *testing.T, f *File) {
				jt := f.Pools[0].JobTemplate
				if jt.Image != "first" || jt.ImagePullPolicy != "Always" {
					t.Errorf("merged jobTemplate = %+v", jt)
				}
			},
		},
		"merge of a scalar": {
			src: "x: &s text\n" + validPool + "    jobTemplate:\n      <<: *s\n",
			wants: []want{
				{"1:1", "x", `unknown field "x"`, "allowed here:"},
				{"6:11", "pools[0].jobTemplate", `a merge key (<<) needs a mapping, got the string "text"`, ""},
			},
		},
		"merge of a list of scalars": {
			src:   validPool + "    jobTemplate:\n      <<: [1, {image: a}]\n",
			wants: []want{{"5:12", "pools[0].jobTemplate", "a merge key (<<) needs a mapping, got the number 1", ""}},
		},
		"problem in a merged anchor is reported for each user": {
			src: yml(`
				kubernetes: {namespace: default}
				pools:
				  - name: a
				    type: kubernetes
				    jobTemplate: &t
				      serviceAccountName: ghost
				  - name: b
				    type: kubernetes
				    jobTemplate:
				      <<: *t
			`),
			wants: []want{
				{"6:27", "pools[0].jobTemplate.serviceAccountName", `ServiceAccount "ghost" in namespace "default" is not declared in this file`, "kubernetes.external"},
				{"6:27", "pools[1].jobTemplate.serviceAccountName", `ServiceAccount "ghost" in namespace "default" is not declared in this file`, ""},
			},
		},
		"alias used twice": {
			// Positions inside an alias are those of the anchored value.
			src: "pools:\n  - &p {name: a, type: kubernetes}\n  - *p\n",
			wants: []want{
				{"2:15", "pools[1].name", `duplicate pool name "a" (also pools[0])`, ""},
			},
		},
		"duplicate key": {
			src:   validPool + "    name: b\n",
			wants: []want{{"4:5", "pools[0].name", `duplicate key "name" (first at line 2)`, ""}},
		},
		"duplicate top-level key": {
			src:   validPool + "pools: []\n",
			wants: []want{{"4:1", "pools", `duplicate key "pools" (first at line 1)`, ""}},
		},
		"duplicate key in a manifest": {
			src: yml(`
				kubernetes:
				  resources:
				    - apiVersion: v1
				      kind: Namespace
				      metadata: {name: a, name: b}
			`),
			wants: []want{{"5:27", "kubernetes.resources[0].metadata.name", `duplicate key "name" (first at line 5)`, ""}},
		},
		"key overriding a merged key is no duplicate": {
			src: validPool + "    jobTemplate:\n      <<: {image: a}\n      image: b\n",
			check: func(t *testing.T, f *File) {
				if got := f.Pools[0].JobTemplate.Image; got != "b" {
					t.Errorf("image = %q", got)
				}
			},
		},
		"unsupported tag": {
			src:   validPool + "    description: !vault secret/pool\n",
			wants: []want{{"4:18", "pools[0].description", "unsupported YAML tag !vault", ""}},
		},
		"standard tags": {
			src: validPool + "    description: !!str 12\n    concurrencyLimit: !!int \"3\"\n",
			check: func(t *testing.T, f *File) {
				if *f.Pools[0].Description != "12" || *f.Pools[0].ConcurrencyLimit != 3 {
					t.Errorf("description %q, limit %d", *f.Pools[0].Description, *f.Pools[0].ConcurrencyLimit)
				}
			},
		},
		"infinity": {
			src:   validPool + "    concurrencyLimit: .inf\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", ".inf is not a number JSON can hold", ""}},
		},
		"not a number": {
			src:   validPool + "    concurrencyLimit: .NaN\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", ".NaN is not a number JSON can hold", ""}},
		},
		"alias inside its own anchor": {
			src:   "pools: &a [*a]\n",
			wants: []want{{"1:12", "pools[0]", "alias *a is used inside the value it names, so that value would be infinite", ""}},
		},
		"alias inside its own mapping": {
			src:   "pools:\n  - &p\n    name: a\n    type: kubernetes\n    description: *p\n",
			wants: []want{{"5:18", "pools[0].description", "alias *p is used inside the value it names", ""}},
		},
		"merge of its own anchor": {
			src:   "pools:\n  - &p\n    name: a\n    type: kubernetes\n    jobTemplate:\n      <<: *p\n",
			wants: []want{{"6:11", "pools[0].jobTemplate", "alias *p is used inside the value it names", ""}},
		},
		"merge of an enclosing anchor": {
			src:   "pools: &all\n  - name: a\n    type: kubernetes\n    jobTemplate: {<<: {x: *all}}\n",
			wants: []want{{"4:27", "pools[0].jobTemplate.x", "alias *all is used inside the value it names", ""}},
		},
		"too deeply nested": {
			src:   "pools: " + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + "\n",
			wants: []want{{"1:508", "pools", "values nest more than 500 levels deep; refusing to go on", ""}},
		},
		// The alias bomb itself is testdata/broken/alias-bomb.yaml.
		"string bomb": {
			src: "a: &a [\"" + strings.Repeat("x", 4000) + "$$\"]\n" +
				"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
				"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
				"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
				"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
			wants: []want{{"5:36", "e[7]", "aliases expand the document to more than 32 MiB of text; refusing to go on", "an alias of a long value used many times multiplies its size"}},
		},
		"long key bomb": {
			src: "a: &a {" + strings.Repeat("k", 1000) + ": 1}\n" +
				"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
				"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
				"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
				"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n" +
				"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
			wants: []want{{"6:16", "f[2]", "aliases expand the document to more than 32 MiB of text", ""}},
		},
		"problem in an alias reported once": {
			src: "x: &img ${REGISTRY}/app\n" + validPool + "    jobTemplate: {image: *img}\n  - name: b\n    type: kubernetes\n    jobTemplate: {image: *img}\n",
			// The value of x is left out, so its unknown field goes unsaid.
			wants: []want{{"1:9", "x", "environment variable REGISTRY is not set", ""}},
		},
		"merge bomb": {
			src: "a: &a {}\n" +
				"b: &b {<<: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}\n" +
				"c: &c {<<: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}\n" +
				"d: &d {<<: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}\n" +
				"e: &e {<<: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n" +
				"f: &f {<<: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}\n" +
				"g: &g {<<: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]}\n" +
				"h: &h {<<: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]}\n",
			wants: []want{{"8:13", "h", "aliases expand the document to more than 2000000 values", ""}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
			if tc.check != nil && f != nil {
				tc.check(t, f)
			}
		})
	}
}
