package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/atoguard/atoguard/internal/stepup"
)

type factorOut struct {
	ID           string     `json:"id"`
	Type         string     `json:"type"`
	Name         string     `json:"name"`
	Confirmed    bool       `json:"confirmed"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	CloneWarning bool       `json:"clone_warning,omitempty"`
	Address      string     `json:"address,omitempty"`
}

func (s *Server) listFactors(w http.ResponseWriter, r *http.Request) error {
	fs, err := s.stepup.ListFactors(r.Context(), r.PathValue("id"))
	if err != nil {
		return stepupErr(err)
	}
	out := make([]factorOut, len(fs.Factors))
	for i, f := range fs.Factors {
		out[i] = factorOut{ID: f.ID, Type: f.Type, Name: f.Name, Confirmed: f.Confirmed, CreatedAt: f.CreatedAt,
			CloneWarning: f.CloneWarning, Address: f.Address}
		if !f.LastUsedAt.IsZero() {
			t := f.LastUsedAt
			out[i].LastUsedAt = &t
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"factors": out, "recovery_codes_left": fs.RecoveryCodesLeft})
}

func (s *Server) enrolTOTP(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readOptional(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Name        string `json:"name"`
		AccountName string `json:"account_name"`
	}
	if err := decodeStrict(data, &in, true); err != nil {
		return err
	}
	e, err := s.stepup.EnrollTOTP(r.Context(), r.PathValue("id"), in.Name, in.AccountName)
	if err != nil {
		return stepupErr(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]string{
		"factor_id": e.FactorID, "secret": string(e.Secret), "otpauth_uri": string(e.URI),
		"qr_png": base64.StdEncoding.EncodeToString(e.QRPNG),
	})
}

func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	in, err := s.confirmBody(w, r)
	if err != nil {
		return err
	}
	if err := s.stepup.ConfirmTOTP(r.Context(), r.PathValue("id"), in.FactorID, in.Code); err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"factor_id": in.FactorID, "confirmed": true})
}

type confirmIn struct {
	FactorID string `json:"factor_id"`
	Code     string `json:"code"`
}

func (s *Server) confirmBody(w http.ResponseWriter, r *http.Request) (confirmIn, error) {
	var in confirmIn
	data, err := s.readBody(w, r)
	if err != nil {
		return in, err
	}
	return in, decodeStrict(data, &in, false)
}

func (s *Server) beginRegistration(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readOptional(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Name        string `json:"name"`
		UserName    string `json:"user_name"`
		DisplayName string `json:"display_name"`
	}
	if err := decodeStrict(data, &in, true); err != nil {
		return err
	}
	creation, err := s.stepup.BeginWebAuthnRegistration(r.Context(), stepup.RegistrationRequest{
		UserID: r.PathValue("id"), Name: in.Name, UserName: in.UserName, DisplayName: in.DisplayName,
	})
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, creation)
}

func (s *Server) finishRegistration(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Attestation json.RawMessage `json:"attestation"`
	}
	if err := decodeStrict(data, &in, false); err != nil {
		return err
	}
	f, err := s.stepup.FinishWebAuthnRegistration(r.Context(), r.PathValue("id"), in.Attestation)
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, factorOut{ID: f.ID, Type: f.Type, Name: f.Name, Confirmed: f.Confirmed, CreatedAt: f.CreatedAt})
}

func (s *Server) enrolEmail(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Address  string `json:"address"`
		Verified bool   `json:"verified"`
	}
	if err := decodeStrict(data, &in, false); err != nil {
		return err
	}
	e, err := s.stepup.EnrollEmail(r.Context(), r.PathValue("id"), in.Address, in.Verified)
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"factor_id": e.FactorID, "confirmed": e.Confirmed, "sent": e.Sent})
}

func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request) error {
	in, err := s.confirmBody(w, r)
	if err != nil {
		return err
	}
	if err := s.stepup.ConfirmEmail(r.Context(), r.PathValue("id"), in.FactorID, in.Code); err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"factor_id": in.FactorID, "confirmed": true})
}

func (s *Server) newRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readOptional(w, r)
	if err != nil {
		return err
	}
	var in struct{}
	if err := decodeStrict(data, &in, true); err != nil {
		return err
	}
	codes, err := s.stepup.NewRecoveryCodes(r.Context(), r.PathValue("id"))
	if err != nil {
		return stepupErr(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]any{"codes": []string(codes)})
}

func (s *Server) deleteFactor(w http.ResponseWriter, r *http.Request) error {
	if err := s.stepup.DeleteFactor(r.Context(), r.PathValue("id"), r.PathValue("factor_id")); err != nil {
		return stepupErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
