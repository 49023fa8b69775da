package email

// MessageID exposes messageID to the tests.
var MessageID = messageID
