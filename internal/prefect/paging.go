package prefect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// pageSize is the server's default and maximum limit
// (PREFECT_SERVER_API_DEFAULT_LIMIT); a larger limit is a 422.
const pageSize = 200

// maxPages stops a server that ignores "offset" from paging forever.
const maxPages = 10_000

// maxRestarts bounds how often a listing starts again because the list
// changed while it was read.
const maxRestarts = 3

// errShifted is a listing that kept changing under the reader: a page did
// not start with the object the previous page ended with.
var errShifted = errors.New("the list changed while it was read page by page")

// listAll sends a read-only filter POST page by page (limit, offset) until a
// page comes back short. Pages overlap by one object when id is given: an
// object created or deleted before the page boundary while the pages are
// read shifts the rest by one, which offsets alone would turn into an
// object read twice or, worse, one never seen. The overlap shows the shift,
// and the listing starts again (up to maxRestarts times; then errShifted).
// Reading N objects costs ceil((N+1)/200) requests without id, about
// ceil(N/199) with it. id must name an object uniquely and stably; nil
// (for lists ordered by something that moves, like heartbeats) turns the
// check off.
func listAll[T any](ctx context.Context, c *Client, cl call, filter map[string]any, id func(*T) string) ([]T, error) {
	for restart := 0; ; restart++ {
		all, err := listOnce(ctx, c, cl, filter, id)
		if !errors.Is(err, errShifted) || restart == maxRestarts {
			return all, err
		}
	}
}

func listOnce[T any](ctx context.Context, c *Client, cl call, filter map[string]any, id func(*T) string) ([]T, error) {
	var all []T
	offset := 0
	for page := 0; page < maxPages; page++ {
		cl.body = withKeys(filter, "limit", pageSize, "offset", offset)
		var items []T
		if err := c.do(ctx, cl, &items); err != nil {
			return nil, err
		}
		n := len(items)
		if page > 0 && id != nil {
			if n == 0 || id(&items[0]) != id(&all[len(all)-1]) {
				return nil, fmt.Errorf("%s %s: %w", cl.op, cl.obj, errShifted)
			}
			items = items[1:]
		}
		all = append(all, items...)
		if n < pageSize {
			return all, nil
		}
		offset = len(all)
		if id != nil {
			offset-- // the overlap
		}
	}
	return nil, fmt.Errorf("%s %s: more than %d pages; the server seems to ignore the offset", cl.op, cl.obj, maxPages)
}

// paged is what paginate read.
type paged[T any] struct {
	items   []T
	partial bool // more pages than it was allowed to read
}

// paginate reads a /paginate route page by page (200 a page) until its
// last page, or maxPages of them when not 0. A server without the route
// (404: an older Prefect 3) is read through the matching /filter route,
// offset by offset, in full.
func paginate[T any](ctx context.Context, c *Client, cl call, filter map[string]any, limit int) (paged[T], error) {
	var out paged[T]
	for page := 1; page <= maxPagesOr(limit); page++ {
		var resp struct {
			Results []T `json:"results"`
			Pages   int `json:"pages"`
		}
		cl.body = withKeys(filter, "limit", pageSize, "page", page)
		err := c.do(ctx, cl, &resp)
		if page == 1 && IsNotFound(err) && strings.HasSuffix(cl.route, "/paginate") {
			cl.route = strings.TrimSuffix(cl.route, "paginate") + "filter"
			out.items, err = listAll[T](ctx, c, cl, filter, nil)
			return out, err
		}
		if err != nil {
			return out, err
		}
		out.items = append(out.items, resp.Results...)
		if page >= resp.Pages || len(resp.Results) == 0 {
			return out, nil
		}
	}
	if limit == 0 {
		return out, fmt.Errorf("%s %s: more than %d pages; the server seems to ignore the page", cl.op, cl.obj, maxPages)
	}
	out.partial = true
	return out, nil
}

func maxPagesOr(limit int) int {
	if limit > 0 {
		return limit
	}
	return maxPages
}

// withKeys is a copy of m with more keys, given as key, value pairs.
func withKeys(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	maps.Copy(out, m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
