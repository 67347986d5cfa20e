-- Private streams (signed playback URLs). public: listed and playable by anyone; unlisted: playable
-- by link, never listed; private: never listed, playable only through a signed playback URL. Every
-- existing stream stays public.
ALTER TABLE streams ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted', 'private'));
