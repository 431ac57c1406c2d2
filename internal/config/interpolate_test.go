package config

import (
	"strings"
	"testing"
)

func TestInterpolate(t *testing.T) {
	lookup := env(map[string]string{"IMAGE": "img:1", "EMPTY": "", "A_1": "x"})
	type failure struct {
		offset int
		msg    string
		hint   string
	}
	tests := map[string]struct {
		in     string
		out    string
		errors []failure
	}{
		"no reference":              {in: "plain text", out: "plain text"},
		"set variable":              {in: "${IMAGE}", out: "img:1"},
		"inside text":               {in: "repo/${IMAGE}/x", out: "repo/img:1/x"},
		"lowercase and digits":      {in: "${A_1}", out: "x"},
		"set but empty":             {in: "[${EMPTY}]", out: "[]"},
		"default when unset":        {in: "${NOPE:-fallback}", out: "fallback"},
		"default when empty":        {in: "${EMPTY:-fallback}", out: "fallback"},
		"default not used when set": {in: "${IMAGE:-fallback}", out: "img:1"},
		"empty default":             {in: "${NOPE:-}", out: ""},
		"default with a brace":      {in: "${NOPE:-a}b}", out: "ab}"},
		"default with colons":       {in: "${NOPE:-http://x:4200/api}", out: "http://x:4200/api"},
		"escaped dollar":            {in: "$$", out: "$"},
		"escaped reference":         {in: "$${IMAGE}", out: "${IMAGE}"},
		"dollar without brace":      {in: "$IMAGE costs $5", out: "$IMAGE costs $5"},
		"trailing dollar":           {in: "price$", out: "price$"},
		"several references":        {in: "${IMAGE}-${A_1}", out: "img:1-x"},
		"unset variable": {in: "image: ${NOPE}", out: "image: ",
			errors: []failure{{7, "environment variable NOPE is not set", "set NOPE, or give a default: ${NOPE:-value}"}}},
		"two unset variables": {in: "${A}/${B}", out: "/",
			errors: []failure{{0, "environment variable A is not set", ""}, {5, "environment variable B is not set", ""}}},
		"unterminated": {in: "a ${IMAGE", out: "a ${IMAGE",
			errors: []failure{{2, "unterminated ${ (missing })", "write $${ for a literal ${"}}},
		"empty name": {in: "${}", out: "",
			errors: []failure{{0, "invalid variable reference ${}: expected ${NAME} or ${NAME:-default}", "write $${ for a literal ${"}}},
		"name starting with a digit": {in: "x${1A}", out: "x",
			errors: []failure{{1, "invalid variable reference ${1A}", ""}}},
		"dash in name": {in: "${A-B}", out: "",
			errors: []failure{{0, "invalid variable reference ${A-B}", ""}}},
		"shell default without dash": {in: "${A:b}", out: "",
			errors: []failure{{0, "invalid variable reference ${A:b}", ""}}},
		"non-ASCII name": {in: "${ÆØÅ}", out: "",
			errors: []failure{{0, "invalid variable reference ${ÆØÅ}", ""}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errs := Interpolate(tc.in, lookup)
			if out != tc.out {
				t.Errorf("out = %q, want %q", out, tc.out)
			}
			if len(errs) != len(tc.errors) {
				t.Fatalf("errors = %+v, want %+v", errs, tc.errors)
			}
			for i, w := range tc.errors {
				e := errs[i]
				if e.Offset != w.offset || !strings.Contains(e.Message, w.msg) || !strings.Contains(e.Hint, w.hint) {
					t.Errorf("error %d = %+v, want %+v", i, e, w)
				}
			}
		})
	}
}

func TestInterpolationInDocument(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
		check func(t *testing.T, f *File)
	}{
		"set variable and default": {
			src: yml(`
				kubernetes:
				  namespace: ${NAMESPACE}
				  resources:
				    - {apiVersion: v1, kind: Namespace, metadata: {name: "${NAMESPACE}"}}
				pools:
				  - name: a
				    type: kubernetes
				    jobTemplate:
				      image: ${IMAGE}
				      namespace: ${JOB_NAMESPACE:-prefect}
			`),
			check: func(t *testing.T, f *File) {
				jt := f.Pools[0].JobTemplate
				if f.Kubernetes.Namespace != "prefect" || jt.Image != "gbifnorway/prefect-automations:latest" || jt.Namespace != "prefect" {
					t.Errorf("namespace %q, image %q, job namespace %q", f.Kubernetes.Namespace, jt.Image, jt.Namespace)
				}
			},
		},
		"escaped dollar": {
			src: validPool + "    description: costs $$5 and $${IMAGE}\n",
			check: func(t *testing.T, f *File) {
				if got := *f.Pools[0].Description; got != "costs $5 and ${IMAGE}" {
					t.Errorf("description = %q", got)
				}
			},
		},
		"keys are not interpolated": {
			src:   "${IMAGE}: x\n",
			wants: []want{{"1:1", "${IMAGE}", `unknown field "${IMAGE}"`, "allowed here: $schema, kubernetes, pools, prefect, set"}},
		},
		"unset variable in a plain scalar": {
			src:   validPool + "    jobTemplate:\n      image: ${REGISTRY}\n",
			wants: []want{{"5:14", "pools[0].jobTemplate.image", "environment variable REGISTRY is not set", "set REGISTRY, or give a default: ${REGISTRY:-value}"}},
		},
		"unset variable after text": {
			src:   validPool + "    jobTemplate:\n      image: ${IMAGE}-${TAG}\n",
			wants: []want{{"5:23", "pools[0].jobTemplate.image", "environment variable TAG is not set", ""}},
		},
		"unset variable after multi-byte characters": {
			src:   validPool + "    description: blåbær ${WHO}\n",
			wants: []want{{"4:25", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset variable in a quoted string": {
			src:   validPool + "    description: \"by ${WHO}\"\n",
			wants: []want{{"4:22", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset variable in a quoted string with an escape before it": {
			src:   validPool + "    description: \"\\tby ${WHO}\"\n",
			wants: []want{{"4:18", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset variable in a single-quoted string": {
			src:   validPool + "    description: 'by ${WHO}'\n",
			wants: []want{{"4:22", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset variable after an anchor and a tag": {
			src:   validPool + "    description: &d !!str by ${WHO}\n",
			wants: []want{{"4:30", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset variable in a block scalar": {
			src:   validPool + "    description: |\n      line one\n      by ${WHO}\n",
			wants: []want{{"4:18", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset variable on a continuation line": {
			src:   validPool + "    description: first line\n      by ${WHO}\n",
			wants: []want{{"4:18", "pools[0].description", "environment variable WHO is not set", ""}},
		},
		"unset pool name says nothing more": {
			src:   "pools:\n  - name: ${POOL}\n    type: kubernetes\n",
			wants: []want{{"2:11", "pools[0].name", "environment variable POOL is not set", ""}},
		},
		"unset priority says nothing more": {
			src:   validPool + "    queues:\n      - name: q\n        priority: ${PRIORITY}\n",
			wants: []want{{"6:19", "pools[0].queues[0].priority", "environment variable PRIORITY is not set", ""}},
		},
		"unset claim name says nothing more": {
			src: yml(`
				kubernetes: {namespace: default}
				pools:
				  - name: a
				    type: kubernetes
				    jobTemplate:
				      volumes:
				        - name: data
				          persistentVolumeClaim: {claimName: "${CLAIM}"}
			`),
			wants: []want{{"8:47", "pools[0].jobTemplate.volumes[0].persistentVolumeClaim.claimName", "environment variable CLAIM is not set", ""}},
		},
		"other problems are still reported": {
			src:   "pools:\n  - name: ${POOL}\n    type: kubernetes\n  - name: a/b\n    type: kubernetes\n",
			wants: []want{{"2:11", "pools[0].name", "environment variable POOL is not set", ""}, {"4:11", "pools[1].name", `pool name "a/b" contains "/"`, ""}},
		},
		"unterminated reference": {
			src:   validPool + "    description: ${IMAGE\n",
			wants: []want{{"4:18", "pools[0].description", "unterminated ${ (missing })", "write $${ for a literal ${"}},
		},
		"invalid variable name": {
			src:   validPool + "    description: x ${image-tag}\n",
			wants: []want{{"4:20", "pools[0].description", "invalid variable reference ${image-tag}: expected ${NAME} or ${NAME:-default}", ""}},
		},
		"a number from a variable": {
			src: validPool + "    concurrencyLimit: ${IMAGE}\n    description: ${IMAGE}\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", "expected integer, got string",
				"a ${VAR} always gives a string, which this field does not take: write the value in the file"}},
		},
		"a string where a number goes, written so": {
			src:   validPool + "    concurrencyLimit: \"5\"\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", "expected integer, got string", ""}},
		},
		"empty variable without default": {
			src: validPool + "    description: \"[${EMPTY}]\"\n",
			check: func(t *testing.T, f *File) {
				if got := *f.Pools[0].Description; got != "[]" {
					t.Errorf("description = %q", got)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, probs := validateSource("pools.yaml", []byte(tc.src), testEnv)
			checkProblems(t, probs, tc.wants)
			if tc.check != nil && f != nil {
				tc.check(t, f)
			}
		})
	}
}
