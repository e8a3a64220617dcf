package importer

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestExternalRegistryInPlaceOfDVCR: an OCI registry that wants a password stands in DVCR's
// place; the importer pushes into it and fills a volume from it with the credentials of a
// dockerconfigjson document, and the registry refuses anyone without them.
func TestExternalRegistryInPlaceOfDVCR(t *testing.T) {
	f := getFixtures(t)
	host := dvcrServer(t, basicAuth("platform", "s3cret"))
	creds := []byte(`{"auths":{"` + host + `":{"username":"platform","password":"s3cret"}}}`)
	external := func(cfg Config) Config {
		cfg.DVCRToken, cfg.DVCRDockerJSON = "", creds
		return cfg
	}
	file := f.image(t, FormatQCOW2)

	cfg := external(testConfig(host))
	cfg.SourceType, cfg.SourceURL = SourceVolume, file
	if res := runMode(t, ModeImport, cfg); res.Error != "" {
		t.Fatalf("import into the external registry: %s (%s)", res.Error, res.Reason)
	}
	ref, err := name.ParseReference(cfg.DestImage, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref); err == nil {
		t.Fatal("the registry served the image without credentials")
	}
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "platform", Password: "s3cret"}))
	if err != nil {
		t.Fatalf("reading the pushed image: %v", err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v (%d)", err, len(layers))
	}
	if d, _ := layers[0].Digest(); d.Hex != fileSHA256(t, file) {
		t.Errorf("the registry holds %s, the file is sha256:%s", d, fileSHA256(t, file))
	}

	want := rawOf(t, file, FormatQCOW2)
	dest := volume(t, int64(len(want)))
	fill := external(testConfig(host))
	fill.SourceType, fill.SourceURL, fill.DestPath, fill.ScratchDir = SourceDVCR, cfg.DestImage, dest, t.TempDir()
	if res := runMode(t, ModeFill, fill); res.Error != "" {
		t.Fatalf("fill from the external registry: %s (%s)", res.Error, res.Reason)
	}
	if got := fileSHA256(t, dest); got != sha256Hex(want) {
		t.Errorf("the volume holds sha256 %s, the disk is %s", got, sha256Hex(want))
	}

	wrong := testConfig(host)
	wrong.DVCRToken, wrong.DVCRDockerJSON = "", []byte(`{"auths":{"`+host+`":{"username":"platform","password":"wrong"}}}`)
	wrong.SourceType, wrong.SourceURL = SourceVolume, file
	if res := runMode(t, ModeImport, wrong); res.Error == "" {
		t.Error("a push with a wrong password succeeded")
	}
}
