package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/templates"
)

// handleAdminRootKeys is /admin/root-keys: the create form and every root
// key.
func (s *Server) handleAdminRootKeys(c echo.Context) error {
	return s.renderAdminRootKeys(c, http.StatusOK, templates.AdminRootKeysPage{})
}

// renderAdminRootKeys fills p's list, permissions and layout and renders
// it.
func (s *Server) renderAdminRootKeys(c echo.Context, status int, p templates.AdminRootKeysPage) error {
	ks, err := s.rootKeys.List(c.Request().Context())
	if err != nil {
		return err
	}
	p.Layout = s.layout(c, "Root keys", "admin")
	p.Permissions = rootkey.Permissions
	for _, k := range ks {
		p.Keys = append(p.Keys, templates.AdminRootKeyRow{ID: k.ID, Name: k.Name, Display: k.Display, Permissions: k.Permissions,
			CreatedAt: k.CreatedAt, CreatedBy: k.CreatedByEmail, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt})
	}
	return render(c, status, templates.AdminRootKeys(p))
}

// handleAdminRootKeyCreate makes a root key from the form's name and
// permissions (one value each) and answers with the list page showing the
// key once; a bad form is shown again, 422, with what is wrong.
func (s *Server) handleAdminRootKeyCreate(c echo.Context) error {
	params, err := c.FormParams()
	if err != nil {
		return keyhold.Errorf(keyhold.EINVALID, "The form could not be read; send it again.")
	}
	form := templates.AdminRootKeyForm{Name: params.Get("name"), Permissions: params["permissions"]}
	k, secret, err := s.rootKeys.Create(c.Request().Context(), actorOf(c), form.Name, form.Permissions)
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		p := templates.AdminRootKeysPage{Form: form}
		p.Error, p.Fields = formErrors(err)
		return s.renderAdminRootKeys(c, http.StatusUnprocessableEntity, p)
	}
	if err != nil {
		return err
	}
	s.log.Info("root key created", "root_key_id", k.ID, "by", actorOf(c).UserID)
	return s.renderAdminRootKeys(c, http.StatusOK, templates.AdminRootKeysPage{
		New: &templates.AdminNewRootKey{Name: k.Name, Display: k.Display, Secret: secret.Reveal(), Permissions: k.Permissions}})
}

// handleAdminRootKeyRevoke revokes a root key: every instance refuses it
// from its next call.
func (s *Server) handleAdminRootKeyRevoke(c echo.Context) error {
	k, err := s.rootKeys.Revoke(c.Request().Context(), actorOf(c), c.Param("id"))
	switch {
	case keyhold.ErrorCode(err) == keyhold.EINVALID && k != nil:
		s.addFlash(c, templates.FlashInfo, "The root key “"+k.Name+"” was already revoked.")
	case err != nil:
		return err
	default:
		s.log.Info("root key revoked", "root_key_id", k.ID, "by", actorOf(c).UserID)
		s.addFlash(c, templates.FlashSuccess, "Root key “"+k.Name+"” revoked. It is refused from its next call.")
	}
	return redirect(c, "/admin/root-keys")
}
