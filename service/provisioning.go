package service

import (
	"context"
	"fmt"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
)

// Provisioning returns the provisioning engine over the service's
// connections.
func (s *Service) Provisioning() (*reconcile.Engine, error) {
	hss := map[config.HomeserverName]*reconcile.Homeserver{}
	allSynapse := true
	for i, conn := range s.Conns {
		adm, err := homeserver.NewAdmin(conn, s.Targets[i].Admin)
		if err != nil {
			return nil, fmt.Errorf("homeserver %s: %w", conn.Endpoint.Name, err)
		}
		name := config.HomeserverName(conn.Endpoint.Name)
		hss[name] = &reconcile.Homeserver{Name: name, ServerName: conn.Endpoint.ServerName, Client: conn.Client, Admin: adm}
		allSynapse = allSynapse && conn.Implementation == homeserver.Synapse
	}
	version := s.Config.Provisioning.RoomVersion
	if version == "" && allSynapse {
		// Room version 12 when every homeserver supports it.
		version = "12"
	}
	return &reconcile.Engine{
		Config: s.Config, Homeservers: hss, Store: s.Store, Log: s.log.WithField("component", "provisioning"),
		RoomVersion: version, FederationList: s.federationList, Bots: true,
		Hooks: []reconcile.Hook{s.onboardingHook, s.guestHook, s.offboardingHook(hss), s.recordsHook},
	}, nil
}

// federationList returns the federation list in force for cfg, fetching
// it again when its refresh interval has passed; nil if cfg configures
// none.
func (s *Service) federationList(ctx context.Context, cfg *config.Config) (*federation.List, error) {
	if cfg.Federation == nil {
		return nil, nil
	}
	if s.lists == nil {
		k := &ListKeeper{Config: cfg.Federation, Store: s.Store, Log: s.log.WithField("component", "federation"), Notify: s.notifyLand}
		if err := k.Load(ctx); err != nil {
			return nil, err
		}
		s.lists = k
	}
	s.lists.Config = cfg.Federation
	if s.lists.Due() {
		if _, err := s.lists.Refresh(ctx); err != nil {
			return nil, err
		}
	}
	return s.lists.Current(), nil
}

// Writes returns the write requests made to the homeservers so far.
func (s *Service) Writes() int64 {
	var n int64
	for _, c := range s.Conns {
		n += c.Requests.Writes()
	}
	return n
}

// Reads returns the read requests made to the homeservers so far.
func (s *Service) Reads() int64 {
	var n int64
	for _, c := range s.Conns {
		n += c.Requests.Reads()
	}
	return n
}

// TenantNames maps tenant ids to their names for plan output.
func TenantNames(cfg *config.Config) map[config.TenantID]string {
	out := map[config.TenantID]string{}
	for _, t := range cfg.Tenants {
		out[t.ID] = t.Name
	}
	return out
}
