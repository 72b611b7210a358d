//go:build tools
package tools

import _ "helm.sh/chartmuseum/cmd/chartmuseum"
