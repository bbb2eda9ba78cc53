// tlogclient: an independent C2SP tlog-tiles client built on golang.org/x/mod/sumdb/{note,tlog}.
//
// It mirrors a log served at -url: fetches and verifies the checkpoint (note.Open with the log's
// vkey), reads the hash tiles through tlog.TileHashReader (which checks every tile against the
// signed root), downloads every entry bundle, checks that each entry hashes (tlog.RecordHash)
// to its leaf in the tiles and proves its inclusion (tlog.ProveRecord / tlog.CheckRecord), and,
// with -old, proves that the new checkpoint extends an older one (tlog.ProveTree / CheckTree).
// It prints one JSON summary line and exits 1 naming the first failure.
//
// Build (Debian's golang-go and golang-golang-x-mod-dev, no network):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o tlogclient main.go
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var (
	base  = flag.String("url", "", "log prefix, e.g. http://127.0.0.1:8000/log")
	vkey  = flag.String("vkey", "", "the log's checkpoint verifier key")
	auth  = flag.String("auth", "", "bearer token for entry bundles (optional)")
	old   = flag.String("old", "", "file holding an older checkpoint to prove consistency from")
	save  = flag.String("save", "", "write the verified checkpoint here")
	fetch = 0
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogclient: "+format+"\n", args...)
	os.Exit(1)
}

func get(path string) []byte {
	req, err := http.NewRequest("GET", strings.TrimRight(*base, "/")+"/"+path, nil)
	if err != nil {
		die("%v", err)
	}
	if *auth != "" {
		req.Header.Set("Authorization", "Bearer "+*auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		die("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		die("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		die("GET %s: %s: %s", path, resp.Status, body)
	}
	fetch++
	return body
}

type checkpoint struct {
	origin string
	tree   tlog.Tree
	text   string
}

func parseCheckpoint(msg []byte, v note.Verifier) checkpoint {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		die("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		die("checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		die("checkpoint size: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		die("checkpoint root %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], raw)
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: h}, n.Text}
}

// C2SP paths: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>] (no height element, unlike the
// Go checksum database's tile/8/<L>/...).
func indexPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func tilePath(t tlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	p := "tile/" + level + "/" + indexPath(t.N)
	if t.W != 1<<t.H {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}

type reader struct{ cache map[string][]byte }

func (r *reader) Height() int { return 8 }

func (r *reader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := tilePath(t)
		if d, ok := r.cache[p]; ok {
			out[i] = d
			continue
		}
		out[i] = get(p)
		r.cache[p] = out[i]
	}
	return out, nil
}

func (r *reader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func main() {
	flag.Parse()
	v, err := note.NewVerifier(*vkey)
	if err != nil {
		die("vkey: %v", err)
	}
	msg := get("checkpoint")
	cp := parseCheckpoint(msg, v)
	if cp.origin != v.Name() {
		die("checkpoint origin %q is not the key's name %q", cp.origin, v.Name())
	}
	thr := tlog.TileHashReader(cp.tree, &reader{map[string][]byte{}})
	n := cp.tree.N
	root, err := tlog.TreeHash(n, thr)
	if err != nil || root != cp.tree.Hash {
		die("tree hash from tiles: %v", err)
	}
	entries := int64(0)
	for b := int64(0); b*256 < n; b++ {
		w := n - b*256
		if w > 256 {
			w = 256
		}
		data := get(tilePath(tlog.Tile{H: 8, L: -1, N: b, W: int(w)}))
		for i := int64(0); i < w; i++ {
			if len(data) < 2 {
				die("bundle %d truncated at entry %d", b, i)
			}
			l := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+l {
				die("bundle %d truncated inside entry %d", b, i)
			}
			entry := data[2 : 2+l]
			data = data[2+l:]
			idx := b*256 + i
			rh := tlog.RecordHash(entry)
			hs, err := thr.ReadHashes([]int64{tlog.StoredHashIndex(0, idx)})
			if err != nil {
				die("leaf %d: %v", idx, err)
			}
			if hs[0] != rh {
				die("entry %d does not hash to its leaf in the tiles", idx)
			}
			p, err := tlog.ProveRecord(n, idx, thr)
			if err != nil {
				die("prove record %d: %v", idx, err)
			}
			if err := tlog.CheckRecord(p, n, cp.tree.Hash, idx, rh); err != nil {
				die("check record %d: %v", idx, err)
			}
			entries++
		}
		if len(data) != 0 {
			die("bundle %d has %d bytes after its %d entries", b, len(data), w)
		}
	}
	out := map[string]interface{}{
		"origin": cp.origin, "size": n, "root": base64.StdEncoding.EncodeToString(cp.tree.Hash[:]),
		"entries_checked": entries,
	}
	if *old != "" {
		msg, err := os.ReadFile(*old)
		if err != nil {
			die("%v", err)
		}
		o := parseCheckpoint(msg, v)
		p, err := tlog.ProveTree(n, o.tree.N, thr)
		if err != nil {
			die("prove tree %d -> %d: %v", o.tree.N, n, err)
		}
		if err := tlog.CheckTree(p, n, cp.tree.Hash, o.tree.N, o.tree.Hash); err != nil {
			die("consistency %d -> %d: %v", o.tree.N, n, err)
		}
		out["consistent_from"] = o.tree.N
	}
	if *save != "" {
		if err := os.WriteFile(*save, msg, 0o644); err != nil {
			die("%v", err)
		}
	}
	out["fetches"] = fetch
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
