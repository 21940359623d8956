package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cert-manager/cert-manager/pkg/util/configfile"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
)

// ConfigFile is a component's decoder for its versioned configuration file
// (pkg/controller/configfile, pkg/cainjector/configfile, pkg/webhook/configfile).
type ConfigFile interface {
	configfile.ConfigFile
}

// LoadConfig completes a configuration whose versioned defaults and flags are already in
// place, in upstream's order: feature gates from the flags; then, when --config names a
// file, the file's values replace the configuration (adopt copies them over) and the command
// line is parsed again so that flags keep precedence over the file; then the gates once more.
// The chart passes --config=/var/cert-manager/config/config.yaml when its config value is set.
func LoadConfig(cmd *cobra.Command, args []string, path string, file ConfigFile, adopt func(), gates *map[string]bool) error {
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(*gates); err != nil {
		return fmt.Errorf("failed to set feature gates from initial flags-based config: %w", err)
	}
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("failed to load config file %s: %w", path, err)
	}
	loader, err := configfile.NewConfigurationFSLoader(nil, abs)
	if err != nil {
		return fmt.Errorf("failed to load config file %s: %w", path, err)
	}
	if err := loader.Load(file); err != nil {
		return fmt.Errorf("failed to load config file %s: %w", path, err)
	}
	adopt()
	if err := cmd.ParseFlags(args); err != nil {
		return fmt.Errorf("failed to re-parse flags over config file %s: %w", path, err)
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(*gates); err != nil {
		return fmt.Errorf("failed to set feature gates from config file %s: %w", path, err)
	}
	return nil
}
