package web

import "strings"

// pagesStrings is the text of the hosted pages in one language.
type pagesStrings struct {
	// Text is rendered by pages/page.html; "{app}" stands for the
	// application's name.
	Text map[string]string
	// Messages are shown by the scripts; "{email}", "{n}", "{min}" and
	// "{max}" are filled in by them.
	Messages map[string]string
	// Reasons explain, by extensions.reasons code, why the server refused
	// a new password. "other" is for a code the page does not know
	// ("{reason}" names it).
	Reasons map[string]string
}

// pagesCatalog holds the pages' text by language. Every language has the
// same keys (a test checks it).
var pagesCatalog = map[string]pagesStrings{
	"en": {
		Text: map[string]string{
			"confirmTitle":         "Confirm your email address",
			"confirmIntro":         "Click the button below to confirm your email address with {app}.",
			"confirmNotYou":        "Did not create an account with {app}, or ask to use this address with one? Then do not click the button: close this page, and nothing is confirmed. If you want an account with this address later, choose your own password with “Forgot password” on the sign-in page: that also signs out anyone else signed in to it.",
			"confirmButton":        "Confirm my email address",
			"resetTitle":           "Choose a new password",
			"resetIntro":           "Choose a new password for your {app} account.",
			"passwordLabel":        "New password",
			"passwordHint":         "A long password is best: a phrase of several words, for instance.",
			"passwordConfirmLabel": "Confirm the new password",
			"submit":               "Change my password",
			"noscript":             "This page needs JavaScript: turn it on, then open the link again.",
			"langNav":              "Language",
			"otherLangName":        "Français",
		},
		Messages: map[string]string{
			"missingToken":     "This link is incomplete. Open it again from the email, or copy its whole address into your browser.",
			"confirming":       "Confirming your email address…",
			"confirmed":        "Your email address {email} is confirmed.",
			"invalidToken":     "This link is invalid or has expired. Request a new one from the app.",
			"emailTaken":       "This address is already used by another account.",
			"rateLimited":      "Too many attempts; try again in {n} seconds.",
			"rateLimitedOne":   "Too many attempts; try again in 1 second.",
			"rateLimitedLater": "Too many attempts; try again later.",
			"unavailable":      "The service is temporarily unavailable; try again in a moment.",
			"network":          "The server cannot be reached. Check your connection and try again.",
			"generic":          "Something went wrong. Try again later; if it keeps failing, request a new link from the app.",
			"lengthHint":       "Use {min} to {max} characters. A long password is best: a phrase of several words, for instance.",
			"passwordEmpty":    "Enter a new password.",
			"passwordMismatch": "The two passwords differ: type the same password twice.",
			"weakPassword":     "This password cannot be used:",
			"passwordRefused":  "This password was refused; choose another one.",
			"resetting":        "Changing your password…",
			"resetDone":        "Your password was changed. Sign in with your new password in the app.",
			"insecureContext":  "This page cannot encrypt your password here: open the link over HTTPS.",
			"encryptFailed":    "Your password could not be encrypted. Try again later.",
			"tooLongToEncrypt": "This password is too long to be encrypted; choose a shorter one.",
		},
		Reasons: map[string]string{
			"too_short":             "It is too short: use at least {min} characters.",
			"too_long":              "It is too long: use at most {max} characters.",
			"contains_email":        "It contains your email address, or the part of it before the @.",
			"contains_service_name": "It contains the name of the service.",
			"common":                "It is one of the most common passwords.",
			"other":                 "It breaks another rule of the password policy ({reason}).",
		},
	},
	"fr": frenchTypography(pagesStrings{
		Text: map[string]string{
			"confirmTitle":         "Confirmez votre adresse e-mail",
			"confirmIntro":         "Cliquez sur le bouton ci-dessous pour confirmer votre adresse e-mail auprès de {app}.",
			"confirmNotYou":        "Vous n’avez pas créé de compte {app}, ni demandé à utiliser cette adresse avec un compte ? Alors ne cliquez pas sur le bouton : fermez cette page, et rien n’est confirmé. Si vous voulez plus tard un compte avec cette adresse, choisissez votre propre mot de passe avec «\u00a0Mot de passe oublié\u00a0» sur la page de connexion : cela déconnecte aussi toute autre personne connectée à ce compte.",
			"confirmButton":        "Confirmer mon adresse e-mail",
			"resetTitle":           "Choisissez un nouveau mot de passe",
			"resetIntro":           "Choisissez un nouveau mot de passe pour votre compte {app}.",
			"passwordLabel":        "Nouveau mot de passe",
			"passwordHint":         "Le mieux est un mot de passe long : une phrase de plusieurs mots, par exemple.",
			"passwordConfirmLabel": "Confirmez le nouveau mot de passe",
			"submit":               "Changer mon mot de passe",
			"noscript":             "Cette page a besoin de JavaScript : activez-le, puis rouvrez le lien.",
			"langNav":              "Langue",
			"otherLangName":        "English",
		},
		Messages: map[string]string{
			"missingToken":     "Ce lien est incomplet. Rouvrez-le depuis l’e-mail, ou copiez son adresse complète dans votre navigateur.",
			"confirming":       "Confirmation de votre adresse e-mail…",
			"confirmed":        "Votre adresse e-mail {email} est confirmée.",
			"invalidToken":     "Ce lien n’est pas valide ou a expiré. Demandez-en un nouveau depuis l’application.",
			"emailTaken":       "Cette adresse est déjà utilisée par un autre compte.",
			"rateLimited":      "Trop de tentatives ; réessayez dans {n} secondes.",
			"rateLimitedOne":   "Trop de tentatives ; réessayez dans 1 seconde.",
			"rateLimitedLater": "Trop de tentatives ; réessayez plus tard.",
			"unavailable":      "Le service est momentanément indisponible ; réessayez dans un instant.",
			"network":          "Impossible de joindre le serveur. Vérifiez votre connexion, puis réessayez.",
			"generic":          "Une erreur s’est produite. Réessayez plus tard ; si le problème persiste, demandez un nouveau lien depuis l’application.",
			"lengthHint":       "Utilisez de {min} à {max} caractères. Le mieux est un mot de passe long : une phrase de plusieurs mots, par exemple.",
			"passwordEmpty":    "Saisissez un nouveau mot de passe.",
			"passwordMismatch": "Les deux mots de passe sont différents : saisissez deux fois le même.",
			"weakPassword":     "Ce mot de passe ne peut pas être utilisé :",
			"passwordRefused":  "Ce mot de passe a été refusé ; choisissez-en un autre.",
			"resetting":        "Changement de votre mot de passe…",
			"resetDone":        "Votre mot de passe a été changé. Connectez-vous avec votre nouveau mot de passe dans l’application.",
			"insecureContext":  "Cette page ne peut pas chiffrer votre mot de passe ici : ouvrez le lien en HTTPS.",
			"encryptFailed":    "Votre mot de passe n’a pas pu être chiffré. Réessayez plus tard.",
			"tooLongToEncrypt": "Ce mot de passe est trop long pour être chiffré ; choisissez-en un plus court.",
		},
		Reasons: map[string]string{
			"too_short":             "Il est trop court : utilisez au moins {min} caractères.",
			"too_long":              "Il est trop long : utilisez au plus {max} caractères.",
			"contains_email":        "Il contient votre adresse e-mail, ou la partie de celle-ci avant le @.",
			"contains_service_name": "Il contient le nom du service.",
			"common":                "Il fait partie des mots de passe les plus courants.",
			"other":                 "Il enfreint une autre règle de la politique des mots de passe ({reason}).",
		},
	}),
}

// frenchTypography puts the no-break space that French typography wants
// before ":", ";", "!" and "?".
func frenchTypography(s pagesStrings) pagesStrings {
	r := strings.NewReplacer(" :", "\u00a0:", " ;", "\u00a0;", " !", "\u00a0!", " ?", "\u00a0?")
	for _, m := range []map[string]string{s.Text, s.Messages, s.Reasons} {
		for k, v := range m {
			m[k] = r.Replace(v)
		}
	}
	return s
}
