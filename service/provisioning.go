package service

import (
	"fmt"

	"github.com/landesmessenger/landesmessenger/config"
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
	return &reconcile.Engine{Config: s.Config, Homeservers: hss, Store: s.Store, Log: s.log.WithField("component", "provisioning"), RoomVersion: version}, nil
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
