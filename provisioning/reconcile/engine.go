package reconcile

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/override"
	"github.com/landesmessenger/landesmessenger/store"
)

// Engine plans and applies provisioning for one configuration.
type Engine struct {
	Config      *config.Config
	Homeservers map[config.HomeserverName]*Homeserver
	Store       *store.Store
	Log         logrus.FieldLogger
	// RoomVersion of new rooms; provisioning.DefaultRoomVersion if empty.
	RoomVersion string
	// FederationList, if set, returns the Land's federation list in force
	// for the configuration (nil when it configures none). An error stops
	// the plan: rooms are never planned without a list that is required.
	FederationList func(ctx context.Context, cfg *config.Config) (*federation.List, error)
	// Bots adds the admin bot's management rooms, with the bot accounts
	// (which the caller makes before applying).
	Bots bool
	// Hooks change the people and the environment of every plan, in
	// order, after the directory and the overrides: onboarding marks people
	// who still have to acknowledge the instruction, guests are added,
	// hand-overs of leavers are given. An error stops the plan.
	Hooks []Hook
}

// Hook is a step of the staff lifecycle that a plan goes through; see
// Engine.Hooks. It returns the people the plan is made from.
type Hook func(ctx context.Context, cfg *config.Config, people []provisioning.Person, env *provisioning.Environment) ([]provisioning.Person, error)

// Outcome is a computed plan with what it was computed from.
type Outcome struct {
	Plan    *provisioning.Plan
	Current *provisioning.Current
	Desired *provisioning.Desired
	// Problems are the directory records that were skipped.
	Problems []directory.Problem
}

// Sources returns the directory sources of the configuration.
func Sources(cfg *config.Config) ([]directory.Source, error) {
	var out []directory.Source
	for _, s := range cfg.Directory {
		switch s.Type {
		case config.SourceFile:
			out = append(out, directory.NewFile(s.Path))
		case config.SourceLDAP:
			pw := ""
			if s.BindPasswordFile != "" {
				var err error
				if pw, err = config.ReadSecret(s.BindPasswordFile); err != nil {
					return nil, fmt.Errorf("%s:%d: directory: bind_password_file: %w", cfg.Path, s.Line, err)
				}
			}
			groups := make([]directory.GroupMapping, len(s.Groups))
			for i, g := range s.Groups {
				groups[i] = directory.GroupMapping{DN: g.DN, Tenant: g.Tenant, Unit: string(g.Unit), Role: directory.Role(g.Role)}
			}
			var roots *x509.CertPool
			if s.CAFile != "" {
				pem, err := os.ReadFile(s.CAFile)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: directory: ca_file: %w", cfg.Path, s.Line, err)
				}
				roots = x509.NewCertPool()
				if !roots.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("%s:%d: directory: ca_file %s: no PEM certificate in it", cfg.Path, s.Line, s.CAFile)
				}
			}
			out = append(out, directory.NewLDAP(directory.LDAPConfig{
				URL: s.URL, BindDN: s.BindDN, BindPassword: pw, BaseDN: s.BaseDN, Filter: s.Filter,
				Attributes: s.Attributes, MemberAttribute: s.MemberAttribute, Groups: groups, Timeout: s.Timeout,
				StartTLS: s.StartTLS, RootCAs: roots,
			}))
		default:
			return nil, fmt.Errorf("%s:%d: directory: unknown source type %q", cfg.Path, s.Line, s.Type)
		}
	}
	return out, nil
}

// People reads every directory source and returns the valid people. An
// unreadable source is an error: no plan is made from half a directory.
func People(ctx context.Context, cfg *config.Config) ([]provisioning.Person, []directory.Problem, error) {
	return PeopleWith(ctx, cfg, nil)
}

// PeopleWith is People with the person overrides of set (nil: none)
// applied before the records are validated.
func PeopleWith(ctx context.Context, cfg *config.Config, set *override.Set) ([]provisioning.Person, []directory.Problem, error) {
	sources, err := Sources(cfg)
	if err != nil {
		return nil, nil, err
	}
	res, err := directory.ReadAll(ctx, sources...)
	if err != nil {
		return nil, nil, fmt.Errorf("read directory: %w", err)
	}
	if set != nil {
		res.People = set.ApplyPeople(res.People)
	}
	units := map[config.TenantID]map[string]bool{}
	for _, t := range cfg.Tenants {
		units[t.ID] = map[string]bool{}
		for _, u := range t.Units {
			units[t.ID][string(u.ID)] = true
		}
	}
	valid, problems := directory.Validate(res.People, units)
	problems = append(res.Problems, problems...)
	people := make([]provisioning.Person, 0, len(valid))
	for _, p := range valid {
		t, _ := cfg.Tenant(p.Tenant)
		if p.Office == "" {
			p.Office = t.ShortName
			if u, ok := t.Unit(config.UnitID(p.Unit)); ok {
				p.Office = u.Name
			}
		}
		people = append(people, provisioning.Person{
			ID: provisioning.PersonID(p.ID), DisplayName: p.DisplayName(), Tenant: p.Tenant,
			Unit: config.UnitID(p.Unit), Role: provisioning.Role(p.Role), Deputy: provisioning.PersonID(p.Deputy),
			Disabled: set != nil && set.Disabled(provisioning.PersonID(p.ID)),
		})
	}
	return people, problems, nil
}

// Environment returns what the planner needs to know of the homeservers.
func (e *Engine) Environment() provisioning.Environment {
	env := provisioning.Environment{
		ServerNames: map[config.HomeserverName]string{},
		Service:     map[config.HomeserverName]id.UserID{},
		RoomVersion: e.RoomVersion,
	}
	for name, hs := range e.Homeservers {
		env.ServerNames[name] = hs.ServerName
		env.Service[name] = hs.Client.UserID
	}
	if e.Bots {
		env.Bots = provisioning.BotUserIDs(e.Config, env.ServerNames)
	}
	return env
}

// Plan reads the directory and the homeservers and computes the plan.
func (e *Engine) Plan(ctx context.Context, opts provisioning.Options) (*Outcome, error) {
	set, err := e.overrides(ctx)
	if err != nil {
		return nil, err
	}
	cfg := set.ApplyConfig(e.Config)
	people, problems, err := PeopleWith(ctx, cfg, set)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		e.Log.WithField("record", p.Source).Warn("directory record skipped: " + p.Msg)
	}
	env := e.Environment()
	if e.FederationList != nil {
		if env.Federation, err = e.FederationList(ctx, cfg); err != nil {
			return nil, err
		}
	}
	for _, h := range e.Hooks {
		if people, err = h(ctx, cfg, people, &env); err != nil {
			return nil, err
		}
	}
	want, err := provisioning.Build(cfg, people, env)
	if err != nil {
		return nil, err
	}
	userOf := map[provisioning.PersonID]id.UserID{}
	for u, a := range want.Accounts {
		userOf[a.Person] = u
	}
	set.ApplyMembers(want, userOf)
	cur, warnings, err := Read(ctx, e.Homeservers, e.Store)
	if err != nil {
		return nil, err
	}
	plan, err := provisioning.Compute(cur, want, opts)
	if err != nil {
		return nil, err
	}
	plan.Warnings = append(warnings, plan.Warnings...)
	return &Outcome{Plan: plan, Current: cur, Desired: want, Problems: problems}, nil
}

// People returns the valid people of the directory with the overrides of
// the admin bot applied, as the next plan sees them.
func (e *Engine) People(ctx context.Context) ([]provisioning.Person, error) {
	set, err := e.overrides(ctx)
	if err != nil {
		return nil, err
	}
	cfg := set.ApplyConfig(e.Config)
	people, _, err := PeopleWith(ctx, cfg, set)
	if err != nil {
		return nil, err
	}
	env := e.Environment()
	for _, h := range e.Hooks {
		if people, err = h(ctx, cfg, people, &env); err != nil {
			return nil, err
		}
	}
	return people, nil
}

// overrides reads the overrides made through the admin bot. One that
// cannot be read is logged and left out.
func (e *Engine) overrides(ctx context.Context) (*override.Set, error) {
	if e.Store == nil {
		set, _ := override.Parse(nil)
		return set, nil
	}
	stored, err := e.Store.Overrides(ctx)
	if err != nil {
		return nil, err
	}
	records := make([]override.Record, len(stored))
	for i, o := range stored {
		records[i] = override.Record{Kind: o.Kind, Key: o.Key, Value: o.Value}
	}
	set, errs := override.Parse(records)
	for _, err := range errs {
		e.Log.WithError(err).Warn("override skipped")
	}
	return set, nil
}

// Options returns the planner options of the configuration.
func Options(cfg *config.Config, allowMassRemoval bool) provisioning.Options {
	return provisioning.Options{
		MaxRemovalShare:   cfg.Provisioning.MaxRemovalShare,
		AllowMassRemoval:  allowMassRemoval,
		DeactivateRemoved: cfg.Provisioning.DeactivateRemoved,
		Erase:             cfg.Offboarding.Erase,
		ExternalPrefix:    cfg.Externals.LocalpartPrefix,
	}
}
