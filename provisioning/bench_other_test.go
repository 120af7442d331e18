//go:build !unix

package provisioning

// maxRSS is unknown here.
func maxRSS() int64 { return 0 }
