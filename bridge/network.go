package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/configupgrade"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// Outbox keeps what was mailed for which Matrix event, so that a message
// is mailed once however often the homeserver delivers its event.
type Outbox interface {
	// Mailed returns the Message-ID mailed for the event, "" if none.
	Mailed(ctx context.Context, eventID id.EventID) (string, error)
	// RecordMailed records that the event was mailed as messageID.
	RecordMailed(ctx context.Context, eventID id.EventID, room, messageID string, at time.Time) error
}

// Network is the mail side of the bridge: a bridgev2 network connector
// whose portals are the configured rooms and whose ghosts are the schools'
// mailboxes. One login (the relay) carries every room; Matrix members
// write through it.
type Network struct {
	Config  *config.Bridge
	Schools *Schools
	Relay   *Relay
	Outbox  Outbox
	// Now is the clock of mail dates; time.Now if nil.
	Now func() time.Time

	br *bridgev2.Bridge
}

// NetworkID is the bridge's network ID.
const NetworkID = "mail"

// RelayLoginID is the ID of the bridge's one login.
const RelayLoginID networkid.UserLoginID = "relay"

var _ bridgev2.NetworkConnector = (*Network)(nil)

func (n *Network) Init(br *bridgev2.Bridge)           { n.br = br }
func (n *Network) Start(context.Context) error        { return nil }
func (n *Network) GetDBMetaTypes() database.MetaTypes { return database.MetaTypes{} }
func (n *Network) GetCapabilities() *bridgev2.NetworkGeneralCapabilities {
	return &bridgev2.NetworkGeneralCapabilities{}
}
func (n *Network) GetBridgeInfoVersion() (int, int) { return 1, 1 }
func (n *Network) GetConfig() (string, any, configupgrade.Upgrader) {
	return "", nil, configupgrade.NoopUpgrader
}

func (n *Network) GetName() bridgev2.BridgeName {
	return bridgev2.BridgeName{
		DisplayName:          "Schulbrücke (E-Mail)",
		NetworkURL:           "https://schulportal.hessen.de",
		NetworkID:            NetworkID,
		BeeperBridgeType:     "landesmessenger-mail",
		DefaultPort:          29330,
		DefaultCommandPrefix: "!schule",
	}
}

func (n *Network) LoadUserLogin(_ context.Context, login *bridgev2.UserLogin) error {
	login.Client = &client{n: n, login: login}
	return nil
}

func (n *Network) GetLoginFlows() []bridgev2.LoginFlow { return nil }

func (n *Network) CreateLogin(context.Context, *bridgev2.User, string) (bridgev2.LoginProcess, error) {
	return nil, errors.New("the school bridge has no logins: its rooms come from the configuration")
}

// room returns the configured room of a portal.
func (n *Network) room(id networkid.PortalID) (config.BridgeRoom, bool) {
	for _, r := range n.Config.Rooms {
		if r.ID == string(id) {
			return r, true
		}
	}
	return config.BridgeRoom{}, false
}

// Mailboxes returns the bridged mailboxes of room r: the offices of its
// schools and, if the room says so, their teachers.
func (n *Network) Mailboxes(r config.BridgeRoom) []Mailbox {
	var out []Mailbox
	for _, num := range r.Schools {
		sc, ok := n.Schools.School(num)
		if !ok {
			continue
		}
		out = append(out, sc.Office)
		if r.Teachers {
			out = append(out, sc.Teachers...)
		}
	}
	return out
}

// Ended reports whether room r is past its end (the last day of the
// school year, Until, inclusive): it then bridges nothing until the
// configuration renews it.
func (n *Network) Ended(r config.BridgeRoom) bool {
	return !r.Until.IsZero() && !n.now().Before(r.Until.AddDate(0, 0, 1))
}

// PortalKey is the portal of a configured room.
func PortalKey(roomID string) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(roomID)}
}

func (n *Network) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Incoming posts a received mail in the room with the ID roomID as the
// ghost of its sender, threaded onto the message it answers, and reports
// whether the bridge took it (a mail posted before is ignored: the
// bridge keeps one message per Message-ID and room).
func (n *Network) Incoming(ctx context.Context, login *bridgev2.UserLogin, roomID string, in *Incoming) error {
	mb, ok := n.Schools.Mailbox(in.From)
	if !ok {
		return fmt.Errorf("%s is no bridged mailbox", in.From)
	}
	ts := in.Date
	if ts.IsZero() || ts.After(n.now()) {
		ts = n.now()
	}
	res := n.br.QueueRemoteEvent(login, &simplevent.Message[*Incoming]{
		EventMeta: simplevent.EventMeta{
			Type: bridgev2.RemoteEventMessage, PortalKey: PortalKey(roomID),
			Sender: bridgev2.EventSender{Sender: networkid.UserID(mb.GhostID())}, Timestamp: ts,
		},
		ID:                 IncomingID(roomID, in.From, in.MessageID),
		Data:               in,
		ConvertMessageFunc: n.convertIncoming,
	})
	if res.Error != nil {
		return fmt.Errorf("post mail %s in %s: %w", in.MessageID, roomID, res.Error)
	}
	// Posted now or before (a duplicate is ignored): the bridge's message
	// table says. An event ignored because the bridge is stopping is not
	// there, and the mail stays in the inbox.
	msg, err := n.br.DB.Message.GetFirstPartByID(ctx, "", IncomingID(roomID, in.From, in.MessageID))
	if err != nil {
		return fmt.Errorf("post mail %s in %s: %w", in.MessageID, roomID, err)
	}
	if msg == nil {
		return fmt.Errorf("post mail %s in %s: not in the room yet", in.MessageID, roomID)
	}
	return nil
}

// convertIncoming makes the Matrix message of a mail: its text (without
// quoted history and signature if configured), then one message per
// attachment, as a reply in the thread of the message it answers.
func (n *Network) convertIncoming(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, in *Incoming) (*bridgev2.ConvertedMessage, error) {
	text := in.Text
	if n.Config.StripQuotes {
		text = StripQuotes(text)
	}
	if in.Subject != "" && !strings.HasPrefix(strings.ToLower(in.Subject), "re:") {
		text = in.Subject + "\n\n" + text
	}
	cm := &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
		ID: "text", Type: event.EventMessage, Content: &event.MessageEventContent{MsgType: event.MsgText, Body: text},
	}}}
	for i, a := range in.Attachments {
		if int64(len(a.Data)) > n.Config.MaxAttachment {
			cm.Parts = append(cm.Parts, &bridgev2.ConvertedMessagePart{ID: networkid.PartID(fmt.Sprintf("file%d", i)), Type: event.EventMessage,
				Content: &event.MessageEventContent{MsgType: event.MsgNotice, Body: fmt.Sprintf("Anlage %q nicht übernommen: größer als %d MB.", a.Name, n.Config.MaxAttachment>>20)}})
			continue
		}
		uri, file, err := intent.UploadMedia(ctx, portal.MXID, a.Data, a.Name, a.MIMEType)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", a.Name, err)
		}
		msgType := event.MsgFile
		if strings.HasPrefix(a.MIMEType, "image/") {
			msgType = event.MsgImage
		}
		cm.Parts = append(cm.Parts, &bridgev2.ConvertedMessagePart{ID: networkid.PartID(fmt.Sprintf("file%d", i)), Type: event.EventMessage,
			Content: &event.MessageEventContent{MsgType: msgType, Body: a.Name, FileName: a.Name, URL: uri, File: file,
				Info: &event.FileInfo{MimeType: a.MIMEType, Size: len(a.Data)}}})
	}
	if target := in.InReplyTo; target != "" {
		reply := n.bridgedID(ctx, portal.ID, target)
		cm.ReplyTo = &networkid.MessageOptionalPartID{MessageID: reply}
		root := reply
		if len(in.References) > 0 {
			root = n.bridgedID(ctx, portal.ID, in.References[0])
		}
		cm.ThreadRoot = &root
	}
	return cm, nil
}

// IncomingID is the bridge's ID of a received mail: the room, the sender
// and the mail's Message-ID. The room keeps one mail to two rooms from
// being posted in one only (bridgev2 knows each ID once across rooms);
// the sender keeps a Message-ID reused by another school from suppressing
// a mail (issue 14, finding 5).
func IncomingID(room, from, messageID string) networkid.MessageID {
	return networkid.MessageID(room + "/" + strings.ToLower(from) + "/" + messageID)
}

// bridgedID finds the bridge's ID of the message a mail names by its
// Message-ID (In-Reply-To, References): a mailed Matrix message keeps its
// Message-ID as its ID; a received mail is looked up among the room's
// mailboxes. Unknown, it is returned as it is (bridgev2 then drops the
// relation).
func (n *Network) bridgedID(ctx context.Context, portal networkid.PortalID, messageID string) networkid.MessageID {
	if n.br == nil {
		return networkid.MessageID(messageID)
	}
	if m, err := n.br.DB.Message.GetFirstPartByID(ctx, "", networkid.MessageID(messageID)); err == nil && m != nil {
		return m.ID
	}
	if r, ok := n.room(portal); ok {
		for _, mb := range n.Mailboxes(r) {
			id := IncomingID(r.ID, mb.Address, messageID)
			if m, err := n.br.DB.Message.GetFirstPartByID(ctx, "", id); err == nil && m != nil {
				return id
			}
		}
	}
	return networkid.MessageID(messageID)
}

// client is the relay login's side of the network.
type client struct {
	n     *Network
	login *bridgev2.UserLogin
}

var _ bridgev2.NetworkAPI = (*client)(nil)

func (c *client) Connect(context.Context)                           {}
func (c *client) Disconnect()                                       {}
func (c *client) IsLoggedIn() bool                                  { return true }
func (c *client) LogoutRemote(context.Context)                      {}
func (c *client) IsThisUser(context.Context, networkid.UserID) bool { return false }
func (c *client) GetCapabilities(context.Context, *bridgev2.Portal) *event.RoomFeatures {
	return &event.RoomFeatures{
		ID: "landesmessenger-mail", MaxTextLength: 100000,
		File: event.FileFeatureMap{
			event.MsgFile:  {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelFullySupported}, MaxSize: c.n.Config.MaxAttachment},
			event.MsgImage: {MimeTypes: map[string]event.CapabilitySupportLevel{"image/*": event.CapLevelFullySupported}, MaxSize: c.n.Config.MaxAttachment},
		},
		Reply: event.CapLevelFullySupported, Thread: event.CapLevelFullySupported,
	}
}

func (c *client) GetChatInfo(_ context.Context, portal *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	r, ok := c.n.room(portal.ID)
	if !ok {
		return nil, fmt.Errorf("no bridged room %q in the configuration", portal.ID)
	}
	topic := fmt.Sprintf("Mit den Schulen per E-Mail verbunden (%s). Nachrichten gehen als E-Mail an die Schulpostfächer; Antworten erscheinen hier.", c.n.Config.Address(r))
	members := bridgev2.ChatMemberMap{}
	for _, mb := range c.n.Mailboxes(r) {
		members[networkid.UserID(mb.GhostID())] = bridgev2.ChatMember{
			EventSender: bridgev2.EventSender{Sender: networkid.UserID(mb.GhostID())}, Membership: event.MembershipJoin,
		}
	}
	return &bridgev2.ChatInfo{
		Name: &r.Name, Topic: &topic,
		Members: &bridgev2.ChatMemberList{IsFull: true, MemberMap: members},
	}, nil
}

func (c *client) GetUserInfo(_ context.Context, ghost *bridgev2.Ghost) (*bridgev2.UserInfo, error) {
	num, _, _ := strings.Cut(string(ghost.ID), ".")
	sc, ok := c.n.Schools.School(num)
	if !ok {
		return nil, fmt.Errorf("no school %s", num)
	}
	for _, mb := range append([]Mailbox{sc.Office}, sc.Teachers...) {
		if mb.GhostID() == string(ghost.ID) {
			name := sc.DisplayName(mb)
			isBot := false
			return &bridgev2.UserInfo{Name: &name, IsBot: &isBot, Identifiers: []string{"mailto:" + mb.Address}}, nil
		}
	}
	return nil, fmt.Errorf("no mailbox %s", ghost.ID)
}

// HandleMatrixMessage mails a Matrix message to the room's mailboxes, once
// per event.
func (c *client) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	r, ok := c.n.room(msg.Portal.ID)
	if !ok {
		return nil, fmt.Errorf("no bridged room %q", msg.Portal.ID)
	}
	if c.n.Ended(r) {
		//lint:ignore ST1005 the text is shown to the room's members as the message's status
		return nil, bridgev2.WrapErrorInStatus(fmt.Errorf("Der Raum ist seit dem Ende des Schuljahres (%s) nicht mehr mit den Schulen verbunden; nichts wurde gemailt (room ended)", r.Until.Format("02.01.2006"))).
			WithErrorAsMessage().WithIsCertain(true).WithSendNotice(true)
	}
	messageID, err := c.n.Outbox.Mailed(ctx, msg.Event.ID)
	if err != nil {
		return nil, err
	}
	if messageID != "" {
		// Delivered again (a transaction retried, or caught up after a
		// restart): mailed and saved before, nothing to do.
		return &bridgev2.MatrixMessageResponse{Pending: true}, nil
	}
	if messageID, err = c.mail(ctx, r, msg); err != nil {
		return nil, err
	}
	return &bridgev2.MatrixMessageResponse{DB: &database.Message{
		ID: networkid.MessageID(messageID), Timestamp: time.UnixMilli(msg.Event.Timestamp),
	}}, nil
}

func (c *client) mail(ctx context.Context, r config.BridgeRoom, msg *bridgev2.MatrixMessage) (string, error) {
	sender := msg.Event.Sender
	if msg.OrigSender != nil {
		sender = msg.OrigSender.UserID
	}
	name := ""
	if mi, err := c.n.br.Matrix.GetMemberInfo(ctx, msg.Portal.MXID, sender); err == nil && mi != nil {
		name = mi.Displayname
	}
	if name == "" {
		name = "Landesverwaltung"
	}
	var to []string
	for _, mb := range c.n.Mailboxes(r) {
		to = append(to, mb.Address)
	}
	content := msg.Content
	o := &Outgoing{
		RoomName: r.Name, RoomAddress: c.n.Config.Address(r), SenderName: name, To: to,
		Subject: r.Name + ": " + firstLine(content.Body), Text: content.Body,
		MessageID: MessageIDFor(string(msg.Event.ID), c.n.Config.MailDomain), Date: c.n.now(),
	}
	if content.Format == event.FormatHTML {
		o.HTML = content.FormattedBody
	}
	if content.MsgType.IsMedia() {
		data, err := c.n.br.Bot.DownloadMedia(ctx, content.URL, content.File)
		if err != nil {
			return "", fmt.Errorf("download %s: %w", content.Body, err)
		}
		if int64(len(data)) > c.n.Config.MaxAttachment {
			//lint:ignore ST1005 the text is shown to the room's members as the message's status
			return "", fmt.Errorf("Anlage größer als %d MB (attachment larger than the limit)", c.n.Config.MaxAttachment>>20)
		}
		mime := ""
		if content.Info != nil {
			mime = content.Info.MimeType
		}
		fname := content.FileName
		if fname == "" {
			fname = content.Body
		}
		o.Attachments = []Attachment{{Name: fname, MIMEType: mime, Data: data}}
		o.Text = "Anlage: " + fname
	}
	if msg.ReplyTo != nil {
		o.InReplyTo = string(msg.ReplyTo.ID)
		o.Subject = "Re: " + r.Name
	}
	if msg.ThreadRoot != nil {
		o.References = append(o.References, string(msg.ThreadRoot.ID))
		if o.InReplyTo == "" {
			o.InReplyTo = string(msg.ThreadRoot.ID)
		}
		if o.InReplyTo != string(msg.ThreadRoot.ID) {
			o.References = append(o.References, o.InReplyTo)
		}
		o.Subject = "Re: " + r.Name
	}
	raw, err := o.Bytes()
	if err != nil {
		return "", err
	}
	if err := c.n.Relay.Send(ctx, o.RoomAddress, to, raw); err != nil {
		var pe *PermanentError
		if errors.As(err, &pe) {
			return "", bridgev2.WrapErrorInStatus(err).WithErrorAsMessage().WithIsCertain(true).WithSendNotice(true)
		}
		return "", err
	}
	// Recorded even if the event's handling is being cancelled: the mail
	// is out, and must not be sent again.
	if err := c.n.Outbox.RecordMailed(context.WithoutCancel(ctx), msg.Event.ID, r.ID, o.MessageID, c.n.now()); err != nil {
		return "", err
	}
	return o.MessageID, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len([]rune(s)) > 60 {
		s = string([]rune(s)[:60]) + "…"
	}
	return s
}
