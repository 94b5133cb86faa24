package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"clerk-lambda/cmd/internal/termtext"
	"clerk-lambda/shared/settings"
)

// configKey is the object the page reads its settings from.
const configKey = "config.json"

// metaSHA256 is the user metadata (x-amz-meta-sha256) holding the hex
// SHA-256 of an object's content, compared to decide what changed.
const metaSHA256 = "sha256"

// parallel is how many S3 requests run at once.
const parallel = 8

// Cache-Control values.
const (
	cacheNone      = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=300"
)

// file is one object the site should hold.
type file struct {
	key          string
	body         []byte
	sha256       string
	contentType  string
	cacheControl string
}

// page reports whether f is uploaded last: the pages and config.json name
// the other files, so they change only once those are in place.
func (f *file) page() bool { return f.cacheControl == cacheNone }

func newFile(key string, body []byte) *file {
	sum := sha256.Sum256(body)
	return &file{key: key, body: body, sha256: hex.EncodeToString(sum[:]),
		contentType: contentType(key), cacheControl: cacheControl(key)}
}

// contentTypes are set explicitly, whatever the machine's MIME tables say.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".svg":         "image/svg+xml",
	".wasm":        "application/wasm",
	".txt":         "text/plain; charset=utf-8",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
}

// contentType is the Content-Type for key, by its extension.
func contentType(key string) string {
	ext := strings.ToLower(path.Ext(key))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// cacheControl is the Cache-Control for key: no-cache on pages and
// config.json (they must be fresh: they name everything else), immutable on
// names that carry a content hash (a new content is a new name), a short
// max-age otherwise.
func cacheControl(key string) string {
	base := path.Base(key)
	switch {
	case key == configKey, strings.HasSuffix(strings.ToLower(base), ".html"), strings.HasSuffix(strings.ToLower(base), ".htm"):
		return cacheNone
	case hashed(base):
		return cacheImmutable
	default:
		return cacheShort
	}
}

// hashed reports whether a file name carries a content hash as bundlers
// emit: Vite's "index-4f3a9c1b.js" or "index-B-KPmvGN.css" (a dash, then
// 8 base64url characters, or 8 or more hex digits, before the extensions),
// or "main.4f3a9c1b.js". To keep plain names ("hello-world-example.js")
// off a year-long cache, the hash must hold a digit or an upper-case
// letter; a hash that holds neither only gets the short max-age.
func hashed(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if len(p) >= 8 && isHex(p) && hasDigitOrUpper(p) {
			return true
		}
	}
	stem := parts[0]
	for i := len(stem) - 1; i > 0; i-- {
		if stem[i-1] != '-' {
			continue
		}
		h := stem[i:]
		if len(h) < 8 {
			continue
		}
		return hasDigitOrUpper(h) && (len(h) == 8 && isBase64URL(h) || isHex(h))
	}
	return false
}

func isHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == ""
}

func isBase64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func hasDigitOrUpper(s string) bool {
	return strings.ContainsAny(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// readSite reads every regular file under dir (names starting with "." are
// skipped) as the objects of the site, keyed by their slash-separated path.
func readSite(dir string) (map[string]*file, error) {
	info, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such folder to publish (give -dir, or SITE_DIR= to make)", dir)
		}
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	files := map[string]*file{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		files[key] = newFile(key, body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return files, nil
}

// siteConfig is config.json: what web/app.js reads.
type siteConfig struct {
	APIURL         string `json:"apiUrl"`
	PublishableKey string `json:"publishableKey"`
}

func configFile(apiBase, publishableKey string) *file {
	body, _ := json.MarshalIndent(siteConfig{APIURL: apiBase, PublishableKey: publishableKey}, "", "  ")
	return newFile(configKey, append(body, '\n'))
}

// target is where and what to publish, from the flags and the stack.
type target struct {
	bucket, apiBase, publishableKey, distribution, siteURL string
}

// resolve fills the target from the flags, then from the stack's outputs.
func resolve(ctx context.Context, o *options, c *clients) (*target, error) {
	t := &target{bucket: o.bucket, apiBase: o.apiBase, publishableKey: o.publishableKey, distribution: o.distribution}
	if o.stack != "" && o.needsStack() {
		outputs, err := stackOutputs(ctx, c.CloudFormation, o.stack)
		if err != nil {
			return nil, err
		}
		fill := func(flagName string, v *string, output string, required bool) error {
			if o.set[flagName] {
				return nil
			}
			*v = outputs[output]
			if *v == "" && output == outputAPIBase {
				// The site hosted elsewhere: the page calls the API's own URL.
				*v = outputs[outputAPIURL]
			}
			if *v == "" && required {
				return fmt.Errorf("stack %s has no output %s, or it is empty (the stack has no site?): give -%s", o.stack, output, flagName)
			}
			return nil
		}
		for _, f := range []struct {
			flag     string
			v        *string
			output   string
			required bool
		}{
			{"bucket", &t.bucket, outputBucket, true},
			{"api-base", &t.apiBase, outputAPIBase, true},
			{"publishable-key", &t.publishableKey, outputPublishableKey, true},
			{"distribution", &t.distribution, outputDistribution, false},
		} {
			if err := fill(f.flag, f.v, f.output, f.required); err != nil {
				return nil, err
			}
		}
		t.siteURL = outputs[outputSiteURL]
	}
	if err := settings.CheckBucket(t.bucket); err != nil {
		return nil, fmt.Errorf("bucket %q %w", t.bucket, err)
	}
	if _, err := settings.IssuerFromPublishableKey(t.publishableKey); err != nil {
		return nil, fmt.Errorf("publishable key: %w", err)
	}
	if t.apiBase == "" || !(strings.HasPrefix(t.apiBase, "/") || strings.HasPrefix(t.apiBase, "https://") || strings.HasPrefix(t.apiBase, "http://")) {
		return nil, fmt.Errorf("API base %q must be a path such as /api or an http(s) URL", t.apiBase)
	}
	return t, nil
}

// plan is what a run changes.
type plan struct {
	upload    []*file // new or changed, in key order
	changed   []string
	deletes   []string
	unchanged int
}

// makePlan compares the site's files with the bucket's objects: a file
// whose object has the same SHA-256, Content-Type and Cache-Control is left
// alone.
func makePlan(ctx context.Context, s3c *s3.Client, bucket string, files map[string]*file) (*plan, error) {
	remote := map[string]bool{}
	pages := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			remote[aws.ToString(o.Key)] = true
		}
	}
	p := &plan{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, key := range sortedKeys(files) {
		f := files[key]
		if !remote[key] {
			p.upload = append(p.upload, f)
			continue
		}
		g.Go(func() error {
			head, err := s3c.HeadObject(gctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
			}
			same := head.Metadata[metaSHA256] == f.sha256 &&
				aws.ToString(head.ContentType) == f.contentType &&
				aws.ToString(head.CacheControl) == f.cacheControl
			mu.Lock()
			defer mu.Unlock()
			if same {
				p.unchanged++
			} else {
				p.upload = append(p.upload, f)
				p.changed = append(p.changed, key)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for key := range remote {
		if files[key] == nil {
			p.deletes = append(p.deletes, key)
		}
	}
	sort.Slice(p.upload, func(i, j int) bool { return p.upload[i].key < p.upload[j].key })
	sort.Strings(p.changed)
	sort.Strings(p.deletes)
	return p, nil
}

// stale are the keys CloudFront may serve an old copy of: the objects
// replaced and those deleted (a new key was never cached).
func (p *plan) stale() []string {
	return append(append([]string{}, p.changed...), p.deletes...)
}

func sortedKeys(files map[string]*file) []string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// apply uploads the plan's files, everything else before the pages, then
// deletes the stale objects; an upload that fails stops it before any
// deletion.
func apply(ctx context.Context, s3c *s3.Client, bucket string, p *plan, stdout io.Writer) error {
	var assets, pages []*file
	for _, f := range p.upload {
		if f.page() {
			pages = append(pages, f)
		} else {
			assets = append(assets, f)
		}
	}
	var mu sync.Mutex
	for _, batch := range [][]*file{assets, pages} {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallel)
		for _, f := range batch {
			g.Go(func() error {
				_, err := s3c.PutObject(gctx, &s3.PutObjectInput{
					Bucket:        aws.String(bucket),
					Key:           aws.String(f.key),
					Body:          bytes.NewReader(f.body),
					ContentLength: aws.Int64(int64(len(f.body))),
					ContentType:   aws.String(f.contentType),
					CacheControl:  aws.String(f.cacheControl),
					Metadata:      map[string]string{metaSHA256: f.sha256},
				})
				if err != nil {
					return fmt.Errorf("upload %s to s3://%s: %w; nothing was deleted, and the pages were not replaced unless every other file was in place: run it again", f.key, bucket, err)
				}
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(stdout, "uploaded %s (%s; %s)\n", termtext.Printable(f.key), f.contentType, f.cacheControl)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, key := range p.deletes {
		g.Go(func() error {
			if _, err := s3c.DeleteObject(gctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				return fmt.Errorf("delete s3://%s/%s (every file was uploaded): %w", bucket, key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stdout, "deleted %s\n", termtext.Printable(key))
			return nil
		})
	}
	return g.Wait()
}

// deploy is the whole command.
func deploy(ctx context.Context, args []string, stdout, stderr io.Writer, newClients func(context.Context) (*clients, error)) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	files, err := readSite(o.dir)
	if err != nil {
		return err
	}
	if files[configKey] != nil {
		fmt.Fprintf(stderr, "deploy-site: %s/%s is replaced by the config.json written from the stack's outputs\n", o.dir, configKey)
	}
	c, err := newClients(ctx)
	if err != nil {
		return err
	}
	t, err := resolve(ctx, o, c)
	if err != nil {
		return err
	}
	files[configKey] = configFile(t.apiBase, t.publishableKey)
	p, err := makePlan(ctx, c.S3, t.bucket, files)
	if err != nil {
		return err
	}
	if o.dryRun {
		for _, f := range p.upload {
			fmt.Fprintf(stdout, "would upload %s (%s; %s)\n", termtext.Printable(f.key), f.contentType, f.cacheControl)
		}
		for _, k := range p.deletes {
			fmt.Fprintf(stdout, "would delete %s\n", termtext.Printable(k))
		}
		if stale := p.stale(); t.distribution != "" && len(stale) > 0 {
			fmt.Fprintf(stdout, "would invalidate %s in distribution %s\n", termtext.Printable(strings.Join(invalidationPaths(stale), " ")), t.distribution)
		}
		fmt.Fprintf(stdout, "dry run: would upload %d, delete %d, leave %d unchanged in s3://%s; nothing was changed\n",
			len(p.upload), len(p.deletes), p.unchanged, t.bucket)
		return nil
	}
	if err := apply(ctx, c.S3, t.bucket, p, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "s3://%s: uploaded %d, deleted %d, %d unchanged\n", t.bucket, len(p.upload), len(p.deletes), p.unchanged)
	stale := p.stale()
	switch {
	case t.distribution == "":
		fmt.Fprintln(stdout, "no CloudFront distribution: no invalidation")
	case len(stale) == 0:
		fmt.Fprintln(stdout, "nothing changed in place: no invalidation")
	default:
		paths := invalidationPaths(stale)
		id, err := invalidate(ctx, c.CloudFront, t.distribution, paths)
		if err != nil {
			return fmt.Errorf("the site is uploaded, but %w", err)
		}
		fmt.Fprintf(stdout, "invalidation %s of %s in distribution %s\n", id, strings.Join(paths, " "), t.distribution)
	}
	if t.siteURL != "" {
		fmt.Fprintln(stdout, "site:", t.siteURL)
	}
	return nil
}
