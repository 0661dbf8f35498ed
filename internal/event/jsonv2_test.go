//go:build !goexperiment.jsonv2

package event

import jsonv2 "github.com/go-json-experiment/json"

func init() {
	unmarshalV2 = func(data []byte, v any) error {
		return jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true))
	}
}
