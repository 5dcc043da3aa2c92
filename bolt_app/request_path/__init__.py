"""What a Slack HTTP request goes through around Bolt: the signature and replay guard, exactly-once delivery,
and the gateway that ties them to the Bolt app and turns every outcome into one HTTP answer."""
