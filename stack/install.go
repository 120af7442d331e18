package stack

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
)

// Pinned versions of the homeservers the stack installs.
const (
	DendriteVersion = "0.13.8"
	SynapseVersion  = "1.163.2"
	// dendriteModule is the Apache-2.0 module; its AGPL successor must never be used.
	dendriteModule = "github.com/matrix-org/dendrite"
)

// CacheDir returns the folder where the stack keeps what it installs:
// $LM_CACHE_DIR, else the user's cache folder plus "landesmessenger".
func CacheDir() (string, error) {
	if dir := os.Getenv("LM_CACHE_DIR"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user's cache folder: %w", err)
	}
	return filepath.Join(base, "landesmessenger"), nil
}

// installLock serialises installs into the cache between processes, since
// parallel tests may install at the same time.
func installLock(cache string) (unlock func(), err error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(cache, "install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ensure returns path once ok(path) holds, running install first if it does
// not. Installs hold a lock on the cache folder, so parallel tests install
// once and the others wait and reuse the result.
func ensure(ctx context.Context, path string, ok func(context.Context, string) bool, install func() error) (string, error) {
	if ok(ctx, path) {
		return path, nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	unlock, err := installLock(cache)
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok(ctx, path) {
		return path, nil
	}
	if err := install(); err != nil {
		return "", err
	}
	if !ok(ctx, path) {
		return "", fmt.Errorf("the installed %s does not report the pinned version", path)
	}
	return path, nil
}

// runCombined runs cmd; its error carries the command line and output.
func runCombined(cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// EnsureDendrite installs Dendrite into the cache unless the pinned version is
// already there, and returns the path of the dendrite binary.
func EnsureDendrite(ctx context.Context, log logrus.FieldLogger) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "dendrite-v"+DendriteVersion, "bin")
	return ensure(ctx, filepath.Join(bin, "dendrite"), dendriteVersionOK, func() error {
		log.WithFields(logrus.Fields{"version": DendriteVersion, "dir": bin}).Info("installing Dendrite (go install, about 1-2 minutes)")
		cmd := exec.CommandContext(ctx, "go", "install", dendriteModule+"/cmd/dendrite@v"+DendriteVersion)
		// Outside our module, so Dendrite's own module graph is used and our
		// go.mod is never touched.
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOTOOLCHAIN=local", "GOFLAGS=", "CGO_ENABLED=1")
		return runCombined(cmd)
	})
}

func dendriteVersionOK(ctx context.Context, exe string) bool {
	out, err := exec.CommandContext(ctx, exe, "-version").Output()
	return err == nil && strings.TrimSpace(string(out)) == DendriteVersion
}

// EnsureSynapse installs Synapse with its PostgreSQL driver into a venv in the
// cache unless the pinned version is already there, and returns the venv's
// python.
func EnsureSynapse(ctx context.Context, log logrus.FieldLogger) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	venv := filepath.Join(cache, "synapse-"+SynapseVersion, "venv")
	py := filepath.Join(venv, "bin", "python")
	return ensure(ctx, py, synapseVersionOK, func() error {
		python, err := exec.LookPath("python3")
		if err != nil {
			return fmt.Errorf("synapse needs python3 (3.10 or newer): %w", err)
		}
		log.WithFields(logrus.Fields{"version": SynapseVersion, "venv": venv}).Info("installing Synapse into a venv (pip, about a minute)")
		if err := runCombined(exec.CommandContext(ctx, python, "-m", "venv", "--clear", venv)); err != nil {
			return err
		}
		return runCombined(exec.CommandContext(ctx, py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
			"matrix-synapse[postgres]=="+SynapseVersion))
	})
}

func synapseVersionOK(ctx context.Context, py string) bool {
	out, err := exec.CommandContext(ctx, py, "-c", "import synapse, psycopg2; print(synapse.__version__)").Output()
	return err == nil && strings.TrimSpace(string(out)) == SynapseVersion
}

// postgresBinDir finds the folder of initdb and pg_ctl: $LM_PG_BINDIR, the
// newest Debian /usr/lib/postgresql/N/bin, or the PATH.
func postgresBinDir() (string, error) {
	if dir := os.Getenv("LM_PG_BINDIR"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL server not found (Debian: apt-get install postgresql; or set LM_PG_BINDIR)")
}

func pgMajor(binDir string) int {
	var n int
	fmt.Sscanf(filepath.Base(filepath.Dir(binDir)), "%d", &n)
	return n
}

// MailpitVersion is the pinned Mailpit, the schools' mail server in the
// bridge's tests and the demo's mail catcher.
const MailpitVersion = "1.33.1"

// EnsureMailpit installs Mailpit into the cache unless the pinned version is
// already there, and returns the path of its binary.
func EnsureMailpit(ctx context.Context, log logrus.FieldLogger) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "mailpit-v"+MailpitVersion, "bin")
	return ensure(ctx, filepath.Join(bin, "mailpit"), mailpitVersionOK, func() error {
		log.WithFields(logrus.Fields{"version": MailpitVersion, "dir": bin}).Info("installing Mailpit (go install, about a minute)")
		cmd := exec.CommandContext(ctx, "go", "install", "github.com/axllent/mailpit@v"+MailpitVersion)
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOTOOLCHAIN=local", "GOFLAGS=")
		return runCombined(cmd)
	})
}

// mailpitVersionOK reads the module version from the binary's build
// information (`go install` leaves Mailpit's own version string at "dev").
func mailpitVersionOK(_ context.Context, exe string) bool {
	info, err := buildinfo.ReadFile(exe)
	return err == nil && info.Main.Path == "github.com/axllent/mailpit" && info.Main.Version == "v"+MailpitVersion
}
